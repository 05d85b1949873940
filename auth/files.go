package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"

	"approvald/approval"
)

// maxKeyFileSize bounds a key file; a key and two short lines fit many times.
const maxKeyFileSize = 64 << 10

// syncAttempts bounds how often SyncFiles decides about one file again
// after another process changed its key concurrently.
const syncAttempts = 3

// fileKey is a key as a secret file defines it.
type fileKey struct {
	hash string
	// shown is what an earlier version showed as the key's prefix: the
	// first characters of the secret, which SyncFiles replaces.
	shown  string
	scopes []approval.Scope // sorted, without duplicates
	groups []string         // sorted, without duplicates
}

// SyncFiles makes the live keys of origin "file" match the key files in
// dir: one file per key, named as the key. The first line of a file is the
// key (whitespace around it is trimmed; at least MinKeyLen characters,
// without spaces or control characters); optional lines "scopes: a, b" and
// "groups: c, d" follow (scopes default to approvals:read alone). Empty
// lines and lines starting with '#' are ignored.
//
// A file whose key, scopes or groups differ from the live file key of its
// name replaces that key (the old one is revoked, a new one stored, in one
// transaction); a new file adds a key; an unchanged one changes nothing.
// A live file key whose file is gone is revoked. A missing dir is an empty
// one: every file key is revoked, so that none outlives its file. A file's
// key may have been chosen by a person, so its public prefix, which
// listings show, is a random id starting with ConfiguredPrefix, never the
// key's first characters (a key an earlier version stored so gets one).
//
// A file that cannot be used is skipped with a warning, and the key of its
// name, if any, is left as it is: a file whose name is not a valid key name
// or is "admin" (reserved for the bootstrap key), one that is not a regular
// file or cannot be read or parsed, one that names an unknown scope, one
// whose name a live key not from a file holds (it is not taken over), and
// one whose key is, or was, another key's secret (a revoked secret never
// comes back). Files whose names start with '.' are ignored silently, as
// Kubernetes keeps its own entries in a secret volume under such names.
// Warnings name files and reasons, never keys, and are logged once while
// the reason stays the same.
//
// SyncFiles returns an error when dir cannot be read (nothing is changed
// then) or the store fails; it goes on with the other files after a
// failure for one. Other processes may sync the same files at the same
// time: a process that finds a key changed under it reads the keys again.
func (k *Keys) SyncFiles(ctx context.Context, dir string) error {
	k.syncMu.Lock()
	defer k.syncMu.Unlock()

	files, problems, err := readKeyFiles(dir)
	if err != nil {
		return err
	}
	keys, err := k.store.ListAPIKeys(ctx)
	if err != nil {
		return err
	}
	// Keys of removed files go first, so that a file renamed with its key
	// unchanged is a new key at once.
	var errs []error
	for i, key := range keys {
		if key.RevokedAt != nil || key.Origin != approval.KeyOriginFile {
			continue
		}
		if _, ok := files[key.Name]; ok {
			continue
		}
		if _, ok := problems[key.Name]; ok {
			continue // the file is there but bad: its key stays
		}
		if err := k.revoke(ctx, key.ID); err != nil {
			errs = append(errs, fmt.Errorf("api key %s: revoking it: %w", key.Name, err))
			continue
		}
		revoked := approval.TruncateTime(k.now())
		keys[i].RevokedAt = &revoked
		k.log.Info("revoked the API key of a removed file", "dir", dir, "name", key.Name, "key_id", key.ID)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		var problem string
		problem, keys, err = k.syncFile(ctx, name, files[name], keys)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("api key file %s: %w", name, err))
		case problem != "":
			problems[name] = problem
		}
	}
	k.warn(dir, problems)
	return errors.Join(errs...)
}

// syncFile makes the live file key of name match f, given the stored keys.
// It returns why the file is skipped ("" when it is not) and the stored
// keys, read again when another process changed them concurrently.
func (k *Keys) syncFile(ctx context.Context, name string, f fileKey, keys []approval.APIKey) (string, []approval.APIKey, error) {
	for attempt := 1; ; attempt++ {
		live, problem := fileKeyState(name, f, keys)
		if problem != "" {
			return problem, keys, nil
		}
		if live != nil && live.Hash == f.hash && slices.Equal(live.Scopes, f.scopes) && slices.Equal(live.Groups, f.groups) {
			return "", keys, k.hidePrefix(ctx, *live, f.shown)
		}
		prefix, err := configuredPrefix()
		if err != nil {
			return "", keys, approval.Internal(err)
		}
		key, err := k.newKey(NewKey{Name: name, Scopes: f.scopes, Groups: f.groups}, f.hash, prefix, approval.KeyOriginFile)
		if err != nil {
			return "", keys, err
		}
		if live == nil {
			err = k.store.CreateAPIKey(ctx, key)
		} else {
			err = k.store.ReplaceAPIKey(ctx, live.ID, key, key.CreatedAt)
		}
		switch kind := approval.KindOf(err); {
		case kind == approval.KindNone && live == nil:
			k.log.Info("added an API key from its file", "name", name, "key_id", key.ID)
			return "", append(keys, key), nil
		case kind == approval.KindNone:
			k.forget()
			reason := "scopes or groups changed"
			if live.Hash != f.hash {
				reason = "key changed"
			}
			k.log.Info("replaced an API key from its file", "name", name, "key_id", key.ID, "old_key_id", live.ID, "reason", reason)
			live.RevokedAt = &key.CreatedAt
			return "", append(keys, key), nil
		case (kind == approval.KindConflict || kind == approval.KindNotFound) && attempt < syncAttempts:
			// Another process changed the keys since they were read.
			fresh, err := k.store.ListAPIKeys(ctx)
			if err != nil {
				return "", keys, err
			}
			keys = fresh
		default:
			return "", keys, err
		}
	}
}

// fileKeyState returns the live key named name, if any, and why the file
// defining f must be skipped, if it must.
func fileKeyState(name string, f fileKey, keys []approval.APIKey) (*approval.APIKey, string) {
	var live *approval.APIKey
	for i, key := range keys {
		if key.Name == name && key.RevokedAt == nil {
			live = &keys[i]
		}
	}
	if live != nil && live.Origin != approval.KeyOriginFile {
		return nil, fmt.Sprintf("the name is taken by a live API key of origin %q, which is left alone", live.Origin)
	}
	// A revoked secret never comes back, unless a file key had it: those
	// are revoked only by SyncFiles, because their file changed or went.
	for _, key := range keys {
		switch {
		case key.Hash != f.hash || key.Name == name && key.Origin == approval.KeyOriginFile:
		case key.Origin != approval.KeyOriginFile:
			return nil, "its key is, or was, the secret of an API key not from a file: write a new key to the file"
		case key.RevokedAt == nil:
			return nil, fmt.Sprintf("the file %s holds the same key", key.Name)
		}
	}
	return live, ""
}

// warn logs each problem that was not logged last time, and remembers them.
func (k *Keys) warn(dir string, problems map[string]string) {
	names := make([]string, 0, len(problems))
	for name := range problems {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if problem := problems[name]; k.warned[name] != problem {
			k.log.Warn("skipping an API key file; the stored key of its name, if any, stays as it is",
				"dir", dir, "file", name, "reason", problem)
		}
	}
	k.warned = problems
}

// readKeyFiles reads the key files in dir. It returns the keys of the
// usable files and, by file name, why the others cannot be used. A missing
// dir has no files; one that cannot be read is an error.
func readKeyFiles(dir string) (map[string]fileKey, map[string]string, error) {
	files := make(map[string]fileKey)
	problems := make(map[string]string)
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return files, problems, nil
	case err != nil:
		return nil, nil, fmt.Errorf("reading the API key files: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasPrefix(name, "."):
			continue
		case !namePattern.MatchString(name):
			problems[name] = "the file name is not a valid key name (1-63 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit)"
			continue
		case name == AdminKeyName:
			problems[name] = "the name admin is reserved for the bootstrap admin key (APPROVALD_ADMIN_KEY)"
			continue
		}
		f, problem := readKeyFile(filepath.Join(dir, name))
		if problem != "" {
			problems[name] = problem
			continue
		}
		files[name] = f
	}
	return files, problems, nil
}

// readKeyFile reads and parses one key file, following a symbolic link (a
// Kubernetes secret volume links every file). It returns why the file
// cannot be used, if it cannot; the reason never quotes the key.
func readKeyFile(path string) (fileKey, string) {
	file, err := os.Open(path)
	if err != nil {
		return fileKey{}, "the file cannot be opened: " + pathlessError(err)
	}
	defer file.Close()
	info, err := file.Stat()
	switch {
	case err != nil:
		return fileKey{}, "the file cannot be read: " + pathlessError(err)
	case !info.Mode().IsRegular():
		return fileKey{}, "not a regular file"
	}
	b, err := io.ReadAll(io.LimitReader(file, maxKeyFileSize+1))
	switch {
	case err != nil:
		return fileKey{}, "the file cannot be read: " + pathlessError(err)
	case len(b) > maxKeyFileSize:
		return fileKey{}, fmt.Sprintf("the file is larger than %d bytes", maxKeyFileSize)
	}
	return parseKeyFile(string(b))
}

// pathlessError returns the message of err without the path of a
// *fs.PathError, which the log names separately.
func pathlessError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// parseKeyFile parses the content of a key file. It returns why the file
// cannot be used, if it cannot; the reason never quotes the key, nor a line
// that is not a scopes or groups line (it might be a misplaced key).
func parseKeyFile(content string) (fileKey, string) {
	lines := strings.Split(content, "\n")
	secret := strings.TrimSpace(lines[0])
	switch {
	case secret == "":
		return fileKey{}, "the first line holds no key"
	case len(secret) < MinKeyLen:
		return fileKey{}, fmt.Sprintf("the key is shorter than %d characters", MinKeyLen)
	case len(secret) > maxSecretLen:
		return fileKey{}, fmt.Sprintf("the key is longer than %d characters", maxSecretLen)
	case strings.IndexFunc(secret, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return fileKey{}, "the key contains spaces or control characters"
	}
	var (
		scopes, groups       []string
		haveScopes, haveGrps bool
	)
	for i, line := range lines[1:] {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		field, value, ok := strings.Cut(line, ":")
		field = strings.ToLower(strings.TrimSpace(field))
		switch {
		case ok && field == "scopes" && !haveScopes:
			scopes, haveScopes = splitList(value), true
		case ok && field == "groups" && !haveGrps:
			groups, haveGrps = splitList(value), true
		case ok && (field == "scopes" || field == "groups"):
			return fileKey{}, fmt.Sprintf("line %d repeats %q", i+2, field)
		default:
			return fileKey{}, fmt.Sprintf(`line %d is not "scopes: …" or "groups: …"`, i+2)
		}
	}
	f := fileKey{hash: HashKey(secret), shown: prefixOf(secret), scopes: []approval.Scope{approval.ScopeRead}, groups: []string{}}
	if haveScopes {
		f.scopes = make([]approval.Scope, len(scopes))
		for i, s := range scopes {
			f.scopes[i] = approval.Scope(s)
		}
	}
	if groups != nil {
		f.groups = groups
	}
	slices.Sort(f.scopes)
	f.scopes = slices.Compact(f.scopes)
	slices.Sort(f.groups)
	f.groups = slices.Compact(f.groups)
	var v approval.Validation
	checkKey(&v, "file", f.scopes, f.groups) // the name is checked by the caller
	if err := v.Err(); err != nil {
		var reasons []string
		for _, fe := range approval.AsError(err).Fields {
			reasons = append(reasons, fe.Field+": "+fe.Message)
		}
		return fileKey{}, strings.Join(reasons, "; ")
	}
	return f, ""
}

// splitList splits a comma-separated list, trimming the items and dropping
// empty ones.
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// WatchFiles calls SyncFiles on dir every period until ctx ends, logging
// failures; it returns when ctx ends. It does not sync at once: call
// SyncFiles at startup, where a failure should stop the start, then run
// WatchFiles in a goroutine of its own.
func (k *Keys) WatchFiles(ctx context.Context, dir string, every time.Duration) {
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			if err := k.SyncFiles(ctx, dir); err != nil && ctx.Err() == nil {
				k.log.Error("syncing the API key files failed", "dir", dir, "err", err)
			}
		}
	}
}
