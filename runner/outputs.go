package runner

// Typed reads of one output, for code that summarises outputs (a step
// type's Outcome line): an output that is missing or of another type reads
// as its zero value, so that a summary never fails.

// String returns output k if it is a string.
func (o Outputs) String(k string) string {
	s, _ := o[k].(string)
	return s
}

// Bool returns output k if it is a bool.
func (o Outputs) Bool(k string) bool {
	b, _ := o[k].(bool)
	return b
}

// Int returns output k as an int64 if it is a number.
func (o Outputs) Int(k string) int64 {
	switch v := o[k].(type) {
	case int64:
		return v
	case int:
		return int64(v)
	case float64:
		return int64(v)
	}
	return 0
}

// Float returns output k as a float64 if it is a number.
func (o Outputs) Float(k string) float64 {
	switch v := o[k].(type) {
	case float64:
		return v
	case int64:
		return float64(v)
	case int:
		return float64(v)
	}
	return 0
}
