package metrics

import "fmt"

// Families are every metric family sluice writes, in documentation order.
// A run's families (sluice run --metrics-file/--pushgateway) carry the
// labels plan and target besides their own; a catalogue's (sluice backups
// metrics) carry dest. Timestamps are Unix seconds.
var Families = []Family{
	// A run.
	{"sluice_run_success", "Whether the plan's last run succeeded (1) or failed or was interrupted (0).", nil},
	{"sluice_run_duration_seconds", "How long the plan's last run took.", nil},
	{"sluice_run_last_finish_timestamp_seconds", "When the plan's last run ended.", nil},
	{"sluice_run_last_success_timestamp_seconds", "When the plan's last successful run ended.", nil},
	{"sluice_run_last_failure_timestamp_seconds", "When the plan's last failed or interrupted run ended.", nil},
	{"sluice_run_consecutive_failures", "Runs of the plan that failed in a row, up to the last one (0 after a success).", nil},
	{"sluice_step_success", "Whether the step succeeded (1) or not (0) in the plan's last run; skipped steps are left out.", []string{"step", "type"}},
	{"sluice_step_duration_seconds", "How long the step ran in the plan's last run.", []string{"step", "type"}},
	{"sluice_step_input_bytes", "Bytes a stream step read from its input in the plan's last run.", []string{"step", "type"}},
	{"sluice_step_output_bytes", "Bytes a stream step wrote to its output in the plan's last run.", []string{"step", "type"}},
	{"sluice_gate_passed", "Whether the gate (an assert: entry, named by its message or expression) passed (1) or failed (0) in the plan's last run.", []string{"step", "gate"}},

	// Backups a run made (upload steps) and verified (verify steps).
	{"sluice_backup_last_success_timestamp_seconds", "When the newest backup a run of the plan stored under the destination was made.", []string{"dest", "database"}},
	{"sluice_backup_last_success_size_bytes", "Stored size of the newest backup a run of the plan stored under the destination.", []string{"dest", "database"}},
	{"sluice_verify_last_success_timestamp_seconds", "When a run of the plan last verified the selected backups of the destination without a failure, at this level or above (digest, content).", []string{"dest", "level"}},
	{"sluice_verify_checked_backups", "Backups the plan's last verify of the destination checked.", []string{"dest"}},
	{"sluice_verify_failed_backups", "Backups that failed the plan's last verify of the destination.", []string{"dest"}},

	// Key stores a run used (the plan's keys: entries) and rotated.
	{"sluice_key_active_since_timestamp_seconds", "When the store's active key became active.", []string{"store"}},
	{"sluice_key_retired_keys", "Retired keys the store keeps (able to decrypt, not encrypted to).", []string{"store"}},
	{"sluice_key_backups_on_retired_keys", "Backups whose manifest still names a retired key of the store, after the plan's last rotate-key step.", []string{"store"}},

	// TLS audits (check-tls steps).
	{"sluice_tls_handshake_success", "Whether the last audit of the address completed a TLS handshake.", []string{"address"}},
	{"sluice_tls_cert_expiry_timestamp_seconds", "When the leaf certificate the address presented expires (not_after).", []string{"address"}},
	{"sluice_tls_chain_expiry_timestamp_seconds", "When the first certificate of the presented chain expires, to the day and never later (the audit reports whole days for the chain).", []string{"address"}},
	{"sluice_tls_findings", "Findings of the last audit of the address, per severity.", []string{"address", "severity"}},

	// Overhead gates (assert-overhead steps).
	{"sluice_overhead_ratio", "Estimated overhead of the candidate over the baseline (candidate/baseline - 1) per query (* for all queries together) and statistic.", []string{"step", "query", "stat"}},
	{"sluice_overhead_ratio_lower", "Lower end of the confidence interval of the overhead ratio.", []string{"step", "query", "stat"}},
	{"sluice_overhead_ratio_upper", "Upper end of the confidence interval of the overhead ratio.", []string{"step", "query", "stat"}},
	{"sluice_overhead_limit_ratio", "The largest acceptable overhead of the gate, as a ratio.", []string{"step"}},
	{"sluice_overhead_verdict", "The gate's verdict (1 for the verdict given, 0 for the others) per query and statistic; query and stat * is the gate's overall verdict.", []string{"step", "query", "stat", "verdict"}},
	{"sluice_overhead_consecutive_not_passing", "Runs in a row, up to the last one, whose overall verdict of the gate was not pass (0 after a pass).", []string{"step"}},

	// A destination's catalogue (sluice backups metrics).
	{"sluice_catalog_read_timestamp_seconds", "When the catalogue was read.", nil},
	{"sluice_catalog_backups", "Complete backups (object and manifest) under the destination.", nil},
	{"sluice_catalog_verified_backups", "Backups with a current verify record, per level.", []string{"level"}},
	{"sluice_catalog_size_bytes", "Stored size of every complete backup together.", nil},
	{"sluice_catalog_newest_backup_timestamp_seconds", "When the newest backup of the database was made (its manifest's created).", []string{"database"}},
	{"sluice_catalog_newest_backup_size_bytes", "Stored size of the newest backup of the database.", []string{"database"}},
	{"sluice_catalog_newest_backup_plaintext_bytes", "Plaintext size of the newest backup of the database, as its manifest records it.", []string{"database"}},
	{"sluice_catalog_newest_verified_backup_timestamp_seconds", "When the newest backup of the database with a current verify record at this level or above (digest, content) was made; 0 when there is none.", []string{"database", "level"}},
	{"sluice_catalog_last_verification_timestamp_seconds", "When the newest current verify record of the database's backups at this level or above was written; 0 when there is none.", []string{"database", "level"}},
	{"sluice_catalog_incomplete_objects", "Objects of sluice's without a manifest (interrupted uploads or prunes).", nil},
	{"sluice_catalog_unfinished_uploads", "Uploads a killed run left unfinished (file:// pending files, s3:// multipart uploads).", nil},
	{"sluice_catalog_problem_manifests", "Manifests that cannot be trusted, per kind.", []string{"kind"}},
	{"sluice_catalog_backups_by_signature", "Backups per signature state of their manifest.", []string{"state"}},
	{"sluice_catalog_key_active_since_timestamp_seconds", "When the active key of the store given with --key-dir became active.", []string{"store"}},
	{"sluice_catalog_key_retired_keys", "Retired keys the store given with --key-dir keeps.", []string{"store"}},
	{"sluice_catalog_retired_keys_needed", "Retired keys of the store that backups under the destination still need.", []string{"store"}},
	{"sluice_catalog_backups_on_retired_keys", "Backups under the destination whose manifest names a retired key of the store.", []string{"store"}},
}

var byName = func() map[string]*Family {
	m := make(map[string]*Family, len(Families))
	for i := range Families {
		f := &Families[i]
		if m[f.Name] != nil {
			panic("metrics: family " + f.Name + " declared twice")
		}
		m[f.Name] = f
	}
	return m
}()

// family returns the declared family name; an undeclared name is a bug.
func family(name string) *Family {
	f := byName[name]
	if f == nil {
		panic(fmt.Sprintf("metrics: family %s is not declared in Families", name))
	}
	return f
}
