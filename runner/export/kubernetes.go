package export

// Kubernetes: an Indexed Job (a CronJob's job with a schedule) whose index
// i runs `sluice run --target-index i`: completions is the number of
// targets, parallelism the cap, backoffLimitPerIndex the plan's retries,
// and a pod failure policy that does not retry what retrying cannot fix
// (usage 2, invalid plan 3, failed gate 4) nor count disruptions (a drained
// node) against the target.

type jobSpec struct {
	CompletionMode          string            `yaml:"completionMode"`
	Completions             int               `yaml:"completions"`
	Parallelism             int               `yaml:"parallelism"`
	BackoffLimitPerIndex    int               `yaml:"backoffLimitPerIndex"`
	PodFailurePolicy        *podFailurePolicy `yaml:"podFailurePolicy,omitempty"`
	TTLSecondsAfterFinished int               `yaml:"ttlSecondsAfterFinished,omitempty"`
	Template                podTemplate       `yaml:"template"`
}

type podTemplate struct {
	Metadata meta    `yaml:"metadata"`
	Spec     podSpec `yaml:"spec"`
}

type podFailurePolicy struct {
	Rules []podFailureRule `yaml:"rules"`
}

type podFailureRule struct {
	Action          string                 `yaml:"action"`
	OnExitCodes     *onExitCodes           `yaml:"onExitCodes,omitempty"`
	OnPodConditions []onPodConditionsEntry `yaml:"onPodConditions,omitempty"`
}

type onExitCodes struct {
	ContainerName string `yaml:"containerName"`
	Operator      string `yaml:"operator"`
	Values        []int  `yaml:"values"`
}

type onPodConditionsEntry struct {
	Type   string `yaml:"type"`
	Status string `yaml:"status"`
}

type cronJobSpec struct {
	Schedule                   string          `yaml:"schedule"`
	TimeZone                   string          `yaml:"timeZone,omitempty"`
	ConcurrencyPolicy          string          `yaml:"concurrencyPolicy"`
	StartingDeadlineSeconds    int             `yaml:"startingDeadlineSeconds"`
	SuccessfulJobsHistoryLimit int             `yaml:"successfulJobsHistoryLimit"`
	FailedJobsHistoryLimit     int             `yaml:"failedJobsHistoryLimit"`
	JobTemplate                jobTemplateSpec `yaml:"jobTemplate"`
}

type jobTemplateSpec struct {
	Metadata meta    `yaml:"metadata"`
	Spec     jobSpec `yaml:"spec"`
}

// noRetryExitCodes are sluice's exit codes that a retry cannot change: a
// usage error, an invalid plan or inventory, a failed gate.
var noRetryExitCodes = []int{2, 3, 4}

func (f *fleet) kubernetes() []object {
	objs := []object{f.configMap()}
	job := f.jobSpec()
	if f.opts.Schedule == "" {
		objs = append(objs, object{APIVersion: "batch/v1", Kind: "Job", Metadata: f.meta(f.opts.Name), Spec: job})
		return objs
	}
	job.TTLSecondsAfterFinished = 0 // the CronJob's history limits keep the jobs
	return append(objs, object{APIVersion: "batch/v1", Kind: "CronJob", Metadata: f.meta(f.opts.Name), Spec: cronJobSpec{
		Schedule: f.opts.Schedule, TimeZone: f.opts.TimeZone,
		// A night's fleet still running when the next one is due keeps
		// going; the next one is skipped, never run beside it.
		ConcurrencyPolicy: "Forbid", StartingDeadlineSeconds: 3600,
		SuccessfulJobsHistoryLimit: 3, FailedJobsHistoryLimit: 5,
		JobTemplate: jobTemplateSpec{Metadata: f.meta(f.opts.Name), Spec: job},
	}})
}

func (f *fleet) jobSpec() jobSpec {
	args := f.runArgs("--target-index", "$(JOB_COMPLETION_INDEX)")
	return jobSpec{
		CompletionMode: "Indexed", Completions: f.targetCount(), Parallelism: min(f.opts.Parallel, f.targetCount()),
		BackoffLimitPerIndex: f.retries(),
		PodFailurePolicy: &podFailurePolicy{Rules: []podFailureRule{
			{Action: "FailIndex", OnExitCodes: &onExitCodes{ContainerName: "sluice", Operator: "In", Values: noRetryExitCodes}},
			{Action: "Ignore", OnPodConditions: []onPodConditionsEntry{{Type: "DisruptionTarget", Status: "True"}}},
		}},
		TTLSecondsAfterFinished: 7 * 24 * 3600,
		Template: podTemplate{Metadata: f.meta(""), Spec: podSpec{
			RestartPolicy: "Never", AutomountServiceAccountToken: new(bool),
			ActiveDeadlineSeconds: f.deadline, SecurityContext: podSecurity(),
			InitContainers: f.initContainers(), Containers: []container{f.sluiceContainer(args)}, Volumes: f.volumes(),
		}},
	}
}
