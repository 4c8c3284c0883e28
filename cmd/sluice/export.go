package main

import (
	"bytes"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/runner/export"
	"github.com/sluice-dev/sluice/runner/fleet"
	"github.com/sluice-dev/sluice/runner/inventory"
	"github.com/sluice-dev/sluice/steps"
)

// defaultImage is the image name the Containerfile's build instructions
// tag; a platform team pushes it to its registry and passes --image.
const defaultImage = "sluice:latest"

// exportCommand prints the manifests that run a plan over an inventory on
// Argo Workflows or Kubernetes.
func exportCommand(a *app) *cobra.Command {
	c := a.planCommand("export PLAN|NAME --to argo|kubernetes", "print Argo Workflows or Kubernetes manifests that run a plan over an inventory")
	fs := c.Flags()
	to := fs.String("to", "", "the engine: argo (WorkflowTemplate, CronWorkflow) or kubernetes (Job, CronJob)")
	invFile := fs.String("inventory", "", "run the plan once per target of this inventory `file`")
	schedule := fs.String("schedule", "", "run on this cron `schedule` (e.g. \"0 2 * * *\"): a CronWorkflow or CronJob")
	tz := fs.String("timezone", "", "the schedule's time `zone` (e.g. Europe/Berlin); default the controller's")
	image := fs.String("image", defaultImage, "the sluice `image` (built from the Containerfile)")
	parallel := fs.Int("parallel", fleet.DefaultParallel, "at most `n` targets at once")
	name := fs.String("name", "", "prefix of the objects' names (default sluice-PLAN)")
	claim := fs.String("reports-claim", "", "keep run reports on this PersistentVolumeClaim (default: an emptyDir; the summary is in the pod log)")
	shard := fs.Int("shard-size", export.DefaultShardSize, "argo: at most `n` targets per workflow; more are split into several sharing one limit")
	completeValues(c, fs.Lookup("to"), export.Argo, export.Kubernetes)
	c.RunE = func(_ *cobra.Command, pos []string) error {
		if len(pos) != 1 {
			return usagef("export takes one plan (a file or a name), got %d arguments", len(pos))
		}
		if *to != export.Argo && *to != export.Kubernetes {
			return usagef("--to %q: want argo or kubernetes", *to)
		}
		file, err := resolvePlan(pos[0], a.globals.plansDir)
		if err != nil {
			return err
		}
		src, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("reading plan: %w", err)
		}
		plan, err := runner.Load(file, src, steps.Builtin(), runner.WithPlansDir(a.globals.plansDir))
		if err != nil {
			return err
		}
		a.printWarnings(plan)
		opts := export.Options{To: *to, Image: *image, Schedule: *schedule, TimeZone: *tz, Parallel: *parallel, Name: *name,
			ReportsClaim: *claim, ShardSize: *shard, PlanFile: file, PlanSource: src}
		var inv *inventory.Inventory
		if *invFile != "" {
			// Every required param must come from the inventory: the pods see
			// no --param, and the machine exporting is not where they run.
			if inv, err = inventory.LoadFor(*invFile, plan, nil); err != nil {
				return err
			}
			if opts.InventorySource, err = os.ReadFile(*invFile); err != nil {
				return fmt.Errorf("reading inventory: %w", err)
			}
			opts.InventoryFile = *invFile
		}
		if *image == defaultImage {
			fmt.Fprintf(a.stderr, "sluice: hint: the manifests use the image %s; build it from the Containerfile, push it to your registry and pass --image\n", defaultImage)
		}
		var buf bytes.Buffer
		if err := export.Write(&buf, plan, inv, opts); err != nil {
			return usagef("export: %v", err)
		}
		_, err = a.stdout.Write(buf.Bytes())
		return err
	}
	return c
}
