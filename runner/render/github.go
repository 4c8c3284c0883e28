package render

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice/runner"
)

// Annotation is a GitHub Actions workflow command that marks a line of a
// file in the run's summary and the pull request diff:
// ::error file=F,line=L,col=C,title=T::message.
type Annotation struct {
	Level   string // error, warning or notice; error when empty
	File    string
	Line    int
	Col     int
	Title   string
	Message string
}

// String formats the workflow command with GitHub's escaping: %, CR and LF
// everywhere, and also ':' and ',' in property values.
func (a Annotation) String() string {
	level := a.Level
	if level == "" {
		level = "error"
	}
	var props []string
	if a.File != "" {
		props = append(props, "file="+escapeProperty(a.File))
	}
	if a.Line > 0 {
		props = append(props, "line="+strconv.Itoa(a.Line))
	}
	if a.Col > 0 {
		props = append(props, "col="+strconv.Itoa(a.Col))
	}
	if a.Title != "" {
		props = append(props, "title="+escapeProperty(a.Title))
	}
	s := "::" + level
	if len(props) > 0 {
		s += " " + strings.Join(props, ",")
	}
	return s + "::" + escapeData(a.Message)
}

func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

// PlanAnnotations turns plan errors into one annotation each, at the
// problem's file, line and column.
func PlanAnnotations(errs runner.PlanErrors) []Annotation {
	out := make([]Annotation, 0, len(errs))
	for _, e := range errs {
		msg := e.Msg
		if e.Step != "" {
			msg = fmt.Sprintf("step %q: %s", e.Step, e.Msg)
		}
		out = append(out, Annotation{File: e.Pos.File, Line: e.Pos.Line, Col: e.Pos.Col, Title: "sluice: plan is invalid", Message: msg})
	}
	return out
}

// GateAnnotation turns a failed gate into an annotation at its assert: entry.
func GateAnnotation(g *runner.GateError) Annotation {
	return Annotation{File: g.Pos.File, Line: g.Pos.Line, Col: g.Pos.Col,
		Title: fmt.Sprintf("sluice: gate failed in step %s", g.Step), Message: g.Error()}
}

// WriteAnnotations writes one workflow command per line.
func WriteAnnotations(w io.Writer, as []Annotation) error {
	for _, a := range as {
		if _, err := fmt.Fprintln(w, a.String()); err != nil {
			return err
		}
	}
	return nil
}
