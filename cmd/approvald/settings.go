package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// settings is approvald's one reader of its configuration. Each setting
// is read once, from its flag when the command line gives it (even
// empty), else from its environment variable when that is set, else from
// its default; surrounding white space is dropped, and an empty value
// takes the default. read then converts every value, with an error naming
// the setting and what is wrong for each value that does not convert.
type settings struct {
	fs     *flag.FlagSet
	getenv func(string) string
	list   []*setting
	byEnv  map[string]*setting
	rest   *[]string // nil: arguments that are not flags are an error
}

// A setting is one value of the configuration and where it comes from.
type setting struct {
	flag    string // "" for a setting read only from the environment
	env     string
	kind    string // what --help calls a value without a `name` in its usage: string, int, float, duration, or bool
	def     string // the default, as text
	envText string // the variable's value, read once
	text    string // the flag's value, when given
	given   bool
	// set converts the text and stores it; its error completes a sentence
	// that starts with the value, and does not repeat it.
	set func(string) error
	// redact, when set, is how the value may be shown in --help and errors;
	// secret shows it nowhere.
	redact func(string) string
	secret bool
	// also says more of where the value comes from, for errors.
	also string
}

func newSettings(getenv func(string) string, out io.Writer) *settings {
	fs := flag.NewFlagSet("approvald", flag.ContinueOnError)
	fs.SetOutput(out)
	s := &settings{fs: fs, getenv: getenv, byEnv: map[string]*setting{}}
	fs.Usage = s.usage
	return s
}

// add registers st, with its flag when it has one.
func (s *settings) add(st *setting, usage string) *setting {
	if s.byEnv[st.env] != nil {
		panic("approvald: two settings read " + st.env)
	}
	st.envText = strings.TrimSpace(s.getenv(st.env))
	s.list = append(s.list, st)
	s.byEnv[st.env] = st
	if st.flag != "" {
		s.fs.Var(st, st.flag, usage)
	}
	return st
}

// The kinds of setting. flagName is "" for a setting read only from the
// environment (usage is then unused); usage names the variable, as --help
// shows it.

func (s *settings) text(dst *string, flagName, env, def, usage string) *setting {
	return s.add(&setting{flag: flagName, env: env, kind: "string", def: def, set: func(v string) error {
		*dst = v
		return nil
	}}, usage)
}

// redacted is a text setting whose value shows only as redact returns it.
func (s *settings) redacted(dst *string, flagName, env, def, usage string, redact func(string) string) *setting {
	return s.add(&setting{flag: flagName, env: env, kind: "string", def: def, redact: redact, set: func(v string) error {
		*dst = v
		return nil
	}}, usage)
}

// secretText is a text setting read only from the environment that is
// never shown.
func (s *settings) secretText(dst *string, env string) *setting {
	return s.add(&setting{env: env, kind: "string", secret: true, set: func(v string) error {
		*dst = v
		return nil
	}}, "")
}

// converted is a text setting that set converts.
func (s *settings) converted(flagName, env, def, usage string, set func(string) error) *setting {
	return s.add(&setting{flag: flagName, env: env, kind: "string", def: def, set: set}, usage)
}

func (s *settings) integer(dst *int, flagName, env string, def int, usage string) *setting {
	return s.add(&setting{flag: flagName, env: env, kind: "int", def: strconv.Itoa(def), set: func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errors.New("is not a whole number")
		}
		*dst = n
		return nil
	}}, usage)
}

func (s *settings) integer64(dst *int64, flagName, env string, def int64, usage string) *setting {
	return s.add(&setting{flag: flagName, env: env, kind: "int", def: strconv.FormatInt(def, 10), set: func(v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return errors.New("is not a whole number")
		}
		*dst = n
		return nil
	}}, usage)
}

func (s *settings) number(dst *float64, flagName, env string, def float64, usage string) *setting {
	return s.add(&setting{flag: flagName, env: env, kind: "float", def: strconv.FormatFloat(def, 'g', -1, 64), set: func(v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return errors.New("is not a number")
		}
		*dst = f
		return nil
	}}, usage)
}

// duration is a duration setting; its range is checked by validate.
func (s *settings) duration(dst *time.Duration, flagName, env string, def time.Duration, usage string) *setting {
	return s.add(&setting{flag: flagName, env: env, kind: "duration", def: def.String(), set: func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return errors.New("is not a duration such as 90s, 30m or 1h")
		}
		*dst = d
		return nil
	}}, usage)
}

// positiveDuration is a duration setting above zero.
func (s *settings) positiveDuration(dst *time.Duration, flagName, env string, def time.Duration, usage string) *setting {
	return s.add(&setting{flag: flagName, env: env, kind: "duration", def: def.String(), set: func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return errors.New("is not a positive duration such as 90s, 30m or 1h")
		}
		*dst = d
		return nil
	}}, usage)
}

// boolean is a boolean setting, read as parseBool reads it; its flag may
// be given alone (--ui) for true.
func (s *settings) boolean(dst *bool, flagName, env string, def bool, usage string) *setting {
	return s.add(&setting{flag: flagName, env: env, kind: "bool", def: strconv.FormatBool(def), set: func(v string) error {
		b, ok := parseBool(v)
		if !ok {
			return errors.New("is not true or false (nor 1/0, yes/no, on/off)")
		}
		*dst = b
		return nil
	}}, usage)
}

// parseBool reads a boolean setting the one way every approvald setting is
// read: true, 1, yes or on; false, 0, no or off; in any case. ok is false
// for anything else.
func parseBool(v string) (b, ok bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes", "on":
		return true, true
	case "false", "0", "no", "off":
		return false, true
	}
	return false, false
}

// parseFlags reads the command line; it returns flag.ErrHelp for --help
// (after writing the help), and the error of an unknown flag or argument.
// With rest set, arguments that are not flags (before, between or after
// them) are appended to it instead.
func (s *settings) parseFlags(args []string) error {
	for {
		if err := s.fs.Parse(args); err != nil {
			return err
		}
		switch {
		case s.fs.NArg() == 0:
			return nil
		case s.rest == nil:
			return fmt.Errorf("unexpected arguments: %s", strings.Join(s.fs.Args(), " "))
		}
		*s.rest = append(*s.rest, s.fs.Arg(0))
		args = s.fs.Args()[1:]
	}
}

// read converts every setting, in the order they were added, and returns
// an error for each value that does not convert, naming the setting and
// showing the value (a redacted one as redacted, a secret not at all);
// such a setting takes its default.
func (s *settings) read() []error {
	var errs []error
	for _, st := range s.list {
		v := st.envText
		if st.given {
			v = strings.TrimSpace(st.text)
		}
		if v == "" {
			v = st.def
		}
		if err := st.set(v); err != nil {
			switch {
			case st.secret:
				errs = append(errs, fmt.Errorf("%s: the value %v", s.label(st.env), err))
			case st.redact != nil:
				errs = append(errs, fmt.Errorf("%s: %q %v", s.label(st.env), st.redact(v), err))
			default:
				errs = append(errs, fmt.Errorf("%s: %q %v", s.label(st.env), v, err))
			}
			// The default stands in, so that the checks that follow report
			// the setting once.
			_ = st.set(st.def)
		}
	}
	return errs
}

// label names the setting of the variable env in errors: "--flag (ENV)",
// or ENV for a setting read only from the environment.
func (s *settings) label(env string) string {
	st := s.byEnv[env]
	if st == nil {
		return env
	}
	l := env
	if st.flag != "" {
		l = "--" + st.flag + " (" + env + ")"
	}
	if st.also != "" {
		l += " " + st.also
	}
	return l
}

// usage writes --help: every flag, with its kind and the default it has
// here (the variable's value when set), then the settings without flags.
func (s *settings) usage() {
	w := s.fs.Output()
	fmt.Fprintln(w, "Usage of approvald:")
	s.fs.VisitAll(func(f *flag.Flag) {
		st := f.Value.(*setting)
		name, usage := flag.UnquoteUsage(f)
		if name == "value" { // no `name` in the usage: the flag package knows only its own kinds
			name = st.kind
		}
		var b strings.Builder
		fmt.Fprintf(&b, "  -%s", f.Name)
		if name != "" {
			b.WriteString(" " + name)
		}
		b.WriteString("\n    \t" + strings.ReplaceAll(usage, "\n", "\n    \t"))
		switch def := f.DefValue; {
		case def == "" || def == zeroText[st.kind]:
		case st.kind == "string":
			fmt.Fprintf(&b, " (default %q)", def)
		default:
			fmt.Fprintf(&b, " (default %s)", def)
		}
		fmt.Fprintln(w, b.String())
	})
	fmt.Fprint(w, usageFooter())
}

// zeroText is the text of each kind's zero value, a default --help omits
// (as the flag package does).
var zeroText = map[string]string{"int": "0", "float": "0", "duration": "0s", "bool": "false"}

// String returns the value --help shows as the default: the variable's,
// else the default.
func (st *setting) String() string {
	if st == nil {
		return ""
	}
	v := st.envText
	if st.given {
		v = st.text
	}
	if v == "" {
		v = st.def
	}
	if st.redact != nil {
		v = st.redact(v)
	}
	return v
}

// Set records the flag's value; read converts it.
func (st *setting) Set(v string) error {
	st.text, st.given = v, true
	return nil
}

// IsBoolFlag lets a boolean flag be given alone, as --ui.
func (st *setting) IsBoolFlag() bool { return st != nil && st.kind == "bool" }
