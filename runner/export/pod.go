package export

// The Kubernetes objects sluice writes, as far as it fills them in: the
// field names are the API's (tests decode the output strictly into
// k8s.io/api types and validate Argo's against its JSON Schema), so that a
// misspelt field fails a test instead of being dropped by the API server.

type object struct {
	APIVersion string            `yaml:"apiVersion"`
	Kind       string            `yaml:"kind"`
	Metadata   meta              `yaml:"metadata"`
	Data       map[string]string `yaml:"data,omitempty"`
	Spec       any               `yaml:"spec,omitempty"`
}

type meta struct {
	Name        string            `yaml:"name,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

type podSpec struct {
	RestartPolicy                string              `yaml:"restartPolicy,omitempty"`
	ServiceAccountName           string              `yaml:"serviceAccountName,omitempty"`
	AutomountServiceAccountToken *bool               `yaml:"automountServiceAccountToken,omitempty"`
	ActiveDeadlineSeconds        int64               `yaml:"activeDeadlineSeconds,omitempty"`
	SecurityContext              *podSecurityContext `yaml:"securityContext,omitempty"`
	InitContainers               []container         `yaml:"initContainers,omitempty"`
	Containers                   []container         `yaml:"containers"`
	Volumes                      []volume            `yaml:"volumes,omitempty"`
}

type podSecurityContext struct {
	RunAsNonRoot   bool            `yaml:"runAsNonRoot"`
	RunAsUser      int64           `yaml:"runAsUser"`
	RunAsGroup     int64           `yaml:"runAsGroup"`
	FSGroup        int64           `yaml:"fsGroup"`
	SeccompProfile *seccompProfile `yaml:"seccompProfile,omitempty"`
}

type seccompProfile struct {
	Type string `yaml:"type"`
}

type container struct {
	Name            string           `yaml:"name,omitempty"`
	Image           string           `yaml:"image"`
	Command         []string         `yaml:"command,omitempty"`
	Args            []string         `yaml:"args,omitempty"`
	WorkingDir      string           `yaml:"workingDir,omitempty"`
	EnvFrom         []envFromSource  `yaml:"envFrom,omitempty"`
	Resources       *resources       `yaml:"resources,omitempty"`
	VolumeMounts    []volumeMount    `yaml:"volumeMounts,omitempty"`
	SecurityContext *securityContext `yaml:"securityContext,omitempty"`
}

type envFromSource struct {
	SecretRef *secretEnvSource `yaml:"secretRef,omitempty"`
}

type secretEnvSource struct {
	Name     string `yaml:"name"`
	Optional bool   `yaml:"optional"`
}

type resources struct {
	Requests map[string]string `yaml:"requests,omitempty"`
	Limits   map[string]string `yaml:"limits,omitempty"`
}

type volumeMount struct {
	Name      string `yaml:"name"`
	MountPath string `yaml:"mountPath"`
	ReadOnly  bool   `yaml:"readOnly,omitempty"`
}

type securityContext struct {
	AllowPrivilegeEscalation bool          `yaml:"allowPrivilegeEscalation"`
	ReadOnlyRootFilesystem   bool          `yaml:"readOnlyRootFilesystem"`
	Capabilities             *capabilities `yaml:"capabilities,omitempty"`
}

type capabilities struct {
	Drop []string `yaml:"drop"`
}

type volume struct {
	Name                  string                 `yaml:"name"`
	ConfigMap             *configMapVolume       `yaml:"configMap,omitempty"`
	Secret                *secretVolume          `yaml:"secret,omitempty"`
	EmptyDir              *emptyDir              `yaml:"emptyDir,omitempty"`
	PersistentVolumeClaim *persistentVolumeClaim `yaml:"persistentVolumeClaim,omitempty"`
}

type configMapVolume struct {
	Name string `yaml:"name"`
}

type secretVolume struct {
	SecretName  string `yaml:"secretName"`
	DefaultMode int    `yaml:"defaultMode"`
}

type emptyDir struct {
	Medium    string `yaml:"medium,omitempty"`
	SizeLimit string `yaml:"sizeLimit,omitempty"`
}

type persistentVolumeClaim struct {
	ClaimName string `yaml:"claimName"`
}
