package export

import (
	"fmt"
	"strconv"
)

// Argo Workflows: a WorkflowTemplate whose DAG has a task per target (each
// a pod running `sluice run --target NAME`), spec.parallelism as the cap,
// the plan's settings.retry as the retryStrategy, and with a schedule a
// CronWorkflow that runs it. An inventory of more than ShardSize targets
// is split into several WorkflowTemplates (and CronWorkflows), each small
// enough for its workflow's status to stay far from etcd's object limit;
// their tasks share one cap through a semaphore ConfigMap.
//
// The manifests use fields of Argo 3.6 and later (synchronization
// semaphores and CronWorkflow schedules are lists there).

type workflowSpec struct {
	Entrypoint       string              `yaml:"entrypoint"`
	Parallelism      int                 `yaml:"parallelism,omitempty"`
	WorkflowMetadata *argoMetadata       `yaml:"workflowMetadata,omitempty"`
	PodGC            *podGC              `yaml:"podGC,omitempty"`
	SecurityContext  *podSecurityContext `yaml:"securityContext,omitempty"`
	Volumes          []volume            `yaml:"volumes,omitempty"`
	Templates        []argoTemplate      `yaml:"templates"`
}

type argoMetadata struct {
	Labels map[string]string `yaml:"labels,omitempty"`
}

type podGC struct {
	Strategy string `yaml:"strategy"`
}

type argoTemplate struct {
	Name                  string           `yaml:"name"`
	Inputs                *parameters      `yaml:"inputs,omitempty"`
	Metadata              *argoMetadata    `yaml:"metadata,omitempty"`
	DAG                   *dag             `yaml:"dag,omitempty"`
	RetryStrategy         *retryStrategy   `yaml:"retryStrategy,omitempty"`
	Synchronization       *synchronization `yaml:"synchronization,omitempty"`
	ActiveDeadlineSeconds string           `yaml:"activeDeadlineSeconds,omitempty"`
	InitContainers        []container      `yaml:"initContainers,omitempty"`
	Container             *container       `yaml:"container,omitempty"`
}

// parameters are a template's inputs or a task's arguments: Argo gives
// both the same shape.
type parameters struct {
	Parameters []parameter `yaml:"parameters"`
}

type parameter struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value,omitempty"`
}

type dag struct {
	Tasks []dagTask `yaml:"tasks"`
}

type dagTask struct {
	Name      string      `yaml:"name"`
	Template  string      `yaml:"template"`
	Arguments *parameters `yaml:"arguments,omitempty"`
}

type retryStrategy struct {
	Limit       string   `yaml:"limit"`
	RetryPolicy string   `yaml:"retryPolicy"`
	Expression  string   `yaml:"expression"`
	Backoff     *backoff `yaml:"backoff,omitempty"`
}

type backoff struct {
	Duration string `yaml:"duration"`
	Factor   string `yaml:"factor"`
}

type synchronization struct {
	Semaphores []semaphoreRef `yaml:"semaphores"`
}

type semaphoreRef struct {
	ConfigMapKeyRef configMapKeySelector `yaml:"configMapKeyRef"`
}

type configMapKeySelector struct {
	Name string `yaml:"name"`
	Key  string `yaml:"key"`
}

type cronWorkflowSpec struct {
	Schedules               []string     `yaml:"schedules"`
	Timezone                string       `yaml:"timezone,omitempty"`
	ConcurrencyPolicy       string       `yaml:"concurrencyPolicy"`
	StartingDeadlineSeconds int          `yaml:"startingDeadlineSeconds"`
	WorkflowSpec            workflowRefs `yaml:"workflowSpec"`
}

type workflowRefs struct {
	WorkflowTemplateRef templateRef `yaml:"workflowTemplateRef"`
}

type templateRef struct {
	Name string `yaml:"name"`
}

// retryExpression retries a target whose run failed (exit 1) or whose pod
// errored (node lost, evicted), never a usage error, an invalid plan or a
// failed gate: running them again gives the same answer.
const retryExpression = `lastRetry.status == "Error" || (lastRetry.status == "Failed" && asInt(lastRetry.exitCode) == 1)`

const semaphoreKey = "targets"

func (f *fleet) argo() []object {
	objs := []object{f.configMap()}
	shards := f.shards()
	if len(shards) > 1 {
		objs = append(objs, object{APIVersion: "v1", Kind: "ConfigMap", Metadata: f.meta(f.semaphoreName()),
			Data: map[string]string{semaphoreKey: strconv.Itoa(f.opts.Parallel)}})
	}
	for i, shard := range shards {
		name := f.opts.Name
		if len(shards) > 1 {
			name = fmt.Sprintf("%s-%d", f.opts.Name, i+1)
		}
		objs = append(objs, object{APIVersion: "argoproj.io/v1alpha1", Kind: "WorkflowTemplate", Metadata: f.meta(name),
			Spec: f.workflowSpec(shard, len(shards) > 1)})
		if f.opts.Schedule != "" {
			objs = append(objs, object{APIVersion: "argoproj.io/v1alpha1", Kind: "CronWorkflow", Metadata: f.meta(name),
				Spec: cronWorkflowSpec{
					Schedules: []string{f.opts.Schedule}, Timezone: f.opts.TimeZone,
					ConcurrencyPolicy: "Forbid", StartingDeadlineSeconds: 3600,
					WorkflowSpec: workflowRefs{WorkflowTemplateRef: templateRef{Name: name}},
				}})
		}
	}
	return objs
}

func (f *fleet) semaphoreName() string { return f.opts.Name + "-parallelism" }

// shards splits the targets into groups of at most ShardSize; without an
// inventory there is one group with no name.
func (f *fleet) shards() [][]string {
	if f.inv == nil {
		return [][]string{nil}
	}
	var out [][]string
	names := f.inv.Names()
	for len(names) > 0 {
		n := min(len(names), f.opts.ShardSize)
		out = append(out, names[:n])
		names = names[n:]
	}
	return out
}

func (f *fleet) workflowSpec(targets []string, sharded bool) workflowSpec {
	var tasks []dagTask
	for _, t := range targets {
		tasks = append(tasks, dagTask{Name: t, Template: "target", Arguments: &parameters{Parameters: []parameter{{Name: "target", Value: t}}}})
	}
	target := argoTemplate{Name: "target", InitContainers: f.initContainers()}
	args := f.runArgs()
	if f.inv == nil {
		tasks = []dagTask{{Name: "run", Template: "target"}}
	} else {
		target.Inputs = &parameters{Parameters: []parameter{{Name: "target"}}}
		target.Metadata = &argoMetadata{Labels: map[string]string{"sluice.dev/target": "{{inputs.parameters.target}}"}}
		args = f.runArgs("--target", "{{inputs.parameters.target}}")
	}
	main := f.sluiceContainer(args)
	main.Name = "" // Argo names the main container itself
	target.Container = &main
	if r := f.retries(); r > 0 {
		target.RetryStrategy = &retryStrategy{Limit: strconv.Itoa(r), RetryPolicy: "Always", Expression: retryExpression}
		if b := f.plan.Settings.Retry.Backoff; b > 0 {
			target.RetryStrategy.Backoff = &backoff{Duration: b.String(), Factor: "2"}
		}
	}
	if f.deadline > 0 {
		target.ActiveDeadlineSeconds = strconv.FormatInt(f.deadline, 10)
	}
	if sharded {
		target.Synchronization = &synchronization{Semaphores: []semaphoreRef{{ConfigMapKeyRef: configMapKeySelector{Name: f.semaphoreName(), Key: semaphoreKey}}}}
	}
	return workflowSpec{
		Entrypoint: "fleet", Parallelism: f.opts.Parallel,
		WorkflowMetadata: &argoMetadata{Labels: map[string]string{"sluice.dev/fleet": f.opts.Name}},
		PodGC:            &podGC{Strategy: "OnPodSuccess"},
		SecurityContext:  podSecurity(), Volumes: f.volumes(),
		Templates: []argoTemplate{{Name: "fleet", DAG: &dag{Tasks: tasks}}, target},
	}
}
