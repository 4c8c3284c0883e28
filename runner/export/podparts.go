package export

import (
	"fmt"
	"strings"
)

// The plan and inventory files inside the ConfigMap and the pod.
const (
	planKey      = "plan.yaml"
	inventoryKey = "inventory.yaml"
)

// configMap holds the plan and the inventory as written.
func (f *fleet) configMap() object {
	data := map[string]string{planKey: string(f.opts.PlanSource)}
	if f.inv != nil {
		data[inventoryKey] = string(f.opts.InventorySource)
	}
	return object{APIVersion: "v1", Kind: "ConfigMap", Metadata: f.meta(f.opts.Name), Data: data}
}

func (f *fleet) meta(name string) meta {
	labels := make(map[string]string, len(f.labels))
	for k, v := range f.labels {
		labels[k] = v
	}
	return meta{Name: name, Labels: labels}
}

// runArgs are sluice's arguments for one target, chosen by sel (e.g.
// --target NAME or --target-index I); without an inventory, the plan.
func (f *fleet) runArgs(sel ...string) []string {
	args := []string{"run", configDir + "/" + planKey}
	if f.inv != nil {
		args = append(args, "--inventory", configDir+"/"+inventoryKey)
		args = append(args, sel...)
	}
	return append(args, "--state-dir", stateDir, "--log-format", "json", "--report", "html,junit")
}

// volumes are the pod's volumes: the ConfigMap, the working directory the
// key stores are copied into (memory-backed), /tmp, the reports, and a
// Secret per key store.
func (f *fleet) volumes() []volume {
	vs := []volume{
		{Name: "config", ConfigMap: &configMapVolume{Name: f.opts.Name}},
		{Name: "work", EmptyDir: &emptyDir{Medium: "Memory", SizeLimit: "16Mi"}},
		{Name: "tmp", EmptyDir: &emptyDir{}},
	}
	if f.opts.ReportsClaim != "" {
		vs = append(vs, volume{Name: "reports", PersistentVolumeClaim: &persistentVolumeClaim{ClaimName: f.opts.ReportsClaim}})
	} else {
		vs = append(vs, volume{Name: "reports", EmptyDir: &emptyDir{}})
	}
	for _, ks := range f.stores {
		vs = append(vs, volume{Name: ks.Secret, Secret: &secretVolume{SecretName: ks.Secret, DefaultMode: 0o400}})
	}
	return vs
}

// initContainers copy each key store from its Secret into the working
// directory. sluice refuses a key folder that group or others can read,
// and key files that are symbolic links: a Secret volume is both (a
// world-readable tmpfs of links into ..data/), so the store is copied into
// a 0700 folder of 0600 files first. A store the plan only encrypts with
// is copied without identities, whatever the Secret holds (its signing
// key, which signs the manifests, is copied).
func (f *fleet) initContainers() []container {
	if len(f.stores) == 0 {
		return nil
	}
	script := []string{"set -eu", "umask 077"}
	mounts := []volumeMount{{Name: "work", MountPath: workDir}}
	for _, ks := range f.stores {
		src := secretsDir + "/" + ks.Secret
		dst := workDir + "/" + ks.Path
		if ks.Private {
			script = append(script, fmt.Sprintf("mkdir -p '%s' && cp '%s'/* '%s'/ && chmod 600 '%s'/*", dst, src, dst, dst))
		} else {
			// No identity: the ledger, the public files and the signing
			// keys (s-ID.key) that sign each manifest.
			script = append(script, fmt.Sprintf("mkdir -p '%s' && cp '%s'/ledger.json '%s'/*.pub '%s'/ && find '%s'/ -maxdepth 1 -name 's-*.key' -exec cp {} '%s'/ ';' && chmod 600 '%s'/*", dst, src, src, dst, src, dst, dst))
		}
		mounts = append(mounts, volumeMount{Name: ks.Secret, MountPath: src, ReadOnly: true})
	}
	c := f.container("keys", []string{"sh", "-c", strings.Join(script, "\n")}, nil, mounts)
	c.Resources = &resources{Requests: map[string]string{"cpu": "10m", "memory": "16Mi"}, Limits: map[string]string{"memory": "64Mi"}}
	return []container{c}
}

// sluiceContainer runs sluice with args.
func (f *fleet) sluiceContainer(args []string) container {
	mounts := []volumeMount{
		{Name: "config", MountPath: configDir, ReadOnly: true},
		{Name: "work", MountPath: workDir, ReadOnly: true},
		{Name: "tmp", MountPath: "/tmp"},
		{Name: "reports", MountPath: stateDir},
	}
	c := f.container("sluice", []string{"sluice"}, args, mounts)
	c.WorkingDir = workDir
	c.EnvFrom = []envFromSource{{SecretRef: &secretEnvSource{Name: f.envSecret(), Optional: true}}}
	// One target keeps about a core busy (zstd); memory covers the S3
	// upload's part buffers (64 MiB by default) with room to spare.
	c.Resources = &resources{Requests: map[string]string{"cpu": "1", "memory": "256Mi"}, Limits: map[string]string{"memory": "1Gi"}}
	return c
}

func (f *fleet) container(name string, command, args []string, mounts []volumeMount) container {
	return container{
		Name: name, Image: f.opts.Image, Command: command, Args: args, VolumeMounts: mounts,
		SecurityContext: &securityContext{ReadOnlyRootFilesystem: true, Capabilities: &capabilities{Drop: []string{"ALL"}}},
	}
}

// podSecurity runs every container as the image's non-root user; fsGroup
// lets that user read the Secret volumes (mode 0440 then).
func podSecurity() *podSecurityContext {
	return &podSecurityContext{RunAsNonRoot: true, RunAsUser: runAsID, RunAsGroup: runAsID, FSGroup: runAsID,
		SeccompProfile: &seccompProfile{Type: "RuntimeDefault"}}
}

// retries is how often a failed target is tried again.
func (f *fleet) retries() int { return max(f.plan.Settings.Retry.Attempts, 1) - 1 }

// targetCount is how many runs one fleet run makes.
func (f *fleet) targetCount() int {
	if f.inv == nil {
		return 1
	}
	return len(f.inv.Targets)
}
