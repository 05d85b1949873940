package rocrate

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// fileID returns the @id of the published file at p: a URI path relative
// to the crate root, as RO-Crate asks of a file data entity. Separators
// are "/"; a leading "/" and empty segments are dropped, each segment is
// percent-encoded except unreserved characters, sub-delimiters, "@" and
// printable non-ASCII characters (RO-Crate prefers IRIs with native UTF-8),
// and the dot segments "." and ".." are encoded as "%2E" and "%2E%2E" so
// the @id cannot climb out of the root. It returns "" when nothing of p
// is left.
func fileID(p string) string {
	var segs []string
	for s := range strings.SplitSeq(p, "/") {
		switch s {
		case "":
			continue
		case ".":
			segs = append(segs, "%2E")
		case "..":
			segs = append(segs, "%2E%2E")
		default:
			segs = append(segs, escape(s, "!$&'()*+,;=@", true))
		}
	}
	id := strings.Join(segs, "/")
	if strings.HasPrefix(id, "@") {
		// "@foo" would be a keyword-form @id to JSON-LD ("@type" a
		// keyword itself), cutting the file off the root's hasPart.
		id = "%40" + id[1:]
	}
	return id
}

// fragment returns "#" + prefix + s with s percent-encoded for a fragment:
// every byte but unreserved characters, ":" and "@".
func fragment(prefix, s string) string {
	return "#" + prefix + escape(s, ":@", false)
}

// escape percent-encodes s except the unreserved ASCII characters, the
// characters in keep and, when unicode is set, printable non-ASCII runes.
func escape(s, keep string, keepUnicode bool) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if isUnreserved(c) || strings.IndexByte(keep, c) >= 0 {
				b.WriteByte(c)
			} else {
				fmt.Fprintf(&b, "%%%02X", c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if keepUnicode && !(r == utf8.RuneError && n == 1) && unicode.IsPrint(r) {
			b.WriteString(s[i : i+n])
		} else {
			for _, x := range []byte(s[i : i+n]) {
				fmt.Fprintf(&b, "%%%02X", x)
			}
		}
		i += n
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// niURI returns the RFC 6920 named-information URI of a digest given in
// hex ("ni:///sha-512;<base64url>"), the @id of its checksum entity: equal
// digests name the same entity. It returns an error when hexSum is not
// lower-case hex of size bytes.
func niURI(alg string, size int, hexSum string) (string, error) {
	sum, err := hex.DecodeString(hexSum)
	if err != nil || len(sum) != size || strings.ToLower(hexSum) != hexSum {
		return "", fmt.Errorf("%q is not a %s digest (%d lower-case hex digits)", hexSum, alg, 2*size)
	}
	return "ni:///" + alg + ";" + base64.RawURLEncoding.EncodeToString(sum), nil
}

// mediaTypes are the media types of the file extensions CR8TOR publishes
// most; a file with another extension gets no encodingFormat.
var mediaTypes = map[string]string{
	".csv":     "text/csv",
	".tsv":     "text/tab-separated-values",
	".txt":     "text/plain",
	".md":      "text/markdown",
	".html":    "text/html",
	".json":    "application/json",
	".jsonld":  "application/ld+json",
	".ndjson":  "application/x-ndjson",
	".xml":     "application/xml",
	".yaml":    "application/yaml",
	".yml":     "application/yaml",
	".toml":    "application/toml",
	".parquet": "application/vnd.apache.parquet",
	".arrow":   "application/vnd.apache.arrow.file",
	".avro":    "application/avro",
	".sql":     "application/sql",
	".pdf":     "application/pdf",
	".zip":     "application/zip",
	".gz":      "application/gzip",
	".tar":     "application/x-tar",
	".xlsx":    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".png":     "image/png",
	".jpg":     "image/jpeg",
	".jpeg":    "image/jpeg",
	".svg":     "image/svg+xml",
}

// mediaType returns the media type of the file at p by its extension, ""
// when unknown.
func mediaType(p string) string {
	return mediaTypes[strings.ToLower(path.Ext(p))]
}
