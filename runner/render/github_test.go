package render

import (
	"bytes"
	"testing"

	"github.com/sluice-dev/sluice/runner"
)

func TestAnnotationString(t *testing.T) {
	cases := []struct {
		a    Annotation
		want string
	}{
		{Annotation{File: "plans/a.yaml", Line: 12, Col: 5, Title: "t", Message: "m"}, "::error file=plans/a.yaml,line=12,col=5,title=t::m"},
		{Annotation{Message: "100% done\nnext"}, "::error::100%25 done%0Anext"},
		{Annotation{Message: "exit 3: stderr: x\r\n::add-mask::y"}, "::error::exit 3: stderr: x%0D%0A::add-mask::y"},
		{Annotation{Level: "warning", File: "C:\\a,b.yaml", Title: "x: y, z", Message: "a::b"}, "::warning file=C%3A\\a%2Cb.yaml,title=x%3A y%2C z::a::b"},
	}
	for _, c := range cases {
		if got := c.a.String(); got != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
	}
}

func TestPlanAndGateAnnotations(t *testing.T) {
	errs := runner.PlanErrors{
		{Pos: runner.Pos{File: "p.yaml", Line: 3, Col: 7}, Step: "enc", Msg: `field "kye" not recognised (did you mean "key"?)`},
		{Pos: runner.Pos{File: "p.yaml", Line: 9, Col: 1}, Msg: "cycle: a -> b -> a"},
	}
	var b bytes.Buffer
	if err := WriteAnnotations(&b, PlanAnnotations(errs)); err != nil {
		t.Fatal(err)
	}
	want := "::error file=p.yaml,line=3,col=7,title=sluice%3A plan is invalid::step \"enc\": field \"kye\" not recognised (did you mean \"key\"?)\n" +
		"::error file=p.yaml,line=9,col=1,title=sluice%3A plan is invalid::cycle: a -> b -> a\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	g := GateAnnotation(&runner.GateError{Step: "write", Expr: "steps.write.bytes > 1000", Operands: "steps.write.bytes = 6", Message: "too small",
		Pos: runner.Pos{File: "p.yaml", Line: 22, Col: 11}})
	if got, want := g.String(), `::error file=p.yaml,line=22,col=11,title=sluice%3A gate failed in step write::step "write": assertion failed: steps.write.bytes > 1000: steps.write.bytes = 6 (too small)`; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"html": HTML, "JUnit": JUnit, "xml": JUnit, "md": Markdown, "json": JSON} {
		if f, err := ParseFormat(in); err != nil || f != want {
			t.Errorf("ParseFormat(%q) = %q, %v", in, f, err)
		}
	}
	if _, err := ParseFormat("pdf"); err == nil {
		t.Error("pdf accepted")
	}
}
