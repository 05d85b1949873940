package client

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
)

// maxSSELine bounds one line of the event stream: an event carries a
// request whose payload alone may be 256 KiB of JSON, escaped.
const maxSSELine = 4 << 20

// errSSELineTooLong reports a line of the event stream longer than maxSSELine.
var errSSELineTooLong = errors.New("event stream: line too long")

// sseMessage is one dispatched server-sent event.
type sseMessage struct {
	ID    string
	HasID bool
	Event string
	Data  string
}

// sseReader reads server-sent events as the HTML specification's parsing
// rules say: lines end in LF, CRLF or CR; ":" starts a comment; a blank line
// dispatches the fields gathered since the last one; an event with no data
// is dropped; an unfinished event at the end of the stream is dropped; the
// last id seen stays the id of later events until another replaces it.
type sseReader struct {
	br      *bufio.Reader
	started bool
	// pendingCR is set after a line ended in CR: an LF right after it
	// belongs to the same line ending.
	pendingCR bool
	// lastID is the last event ID buffer: it outlives the event that set it.
	lastID    string
	hasLastID bool
	max       int
}

func newSSEReader(r io.Reader) *sseReader {
	return &sseReader{br: bufio.NewReaderSize(r, 64<<10), max: maxSSELine}
}

// line returns the next line without its ending. At the end of the stream
// it returns the unfinished last line, if any, with io.EOF.
func (r *sseReader) line() (string, error) {
	var buf []byte
	for {
		b, err := r.br.ReadByte()
		if err != nil {
			if err == io.EOF && len(buf) > 0 {
				return string(buf), io.ErrUnexpectedEOF
			}
			return "", err
		}
		if r.pendingCR {
			r.pendingCR = false
			if b == '\n' {
				continue
			}
		}
		switch b {
		case '\n':
			return string(buf), nil
		case '\r':
			r.pendingCR = true
			return string(buf), nil
		}
		if len(buf) >= r.max {
			return "", errSSELineTooLong
		}
		buf = append(buf, b)
		// Copy the rest of a long line in one go.
		if rest, err := r.br.Peek(r.br.Buffered()); err == nil {
			if i := bytes.IndexAny(rest, "\r\n"); i != 0 {
				if i < 0 {
					i = len(rest)
				}
				if len(buf)+i > r.max {
					return "", errSSELineTooLong
				}
				buf = append(buf, rest[:i]...)
				_, _ = r.br.Discard(i)
			}
		}
	}
}

// next returns the next event, io.EOF at the end of the stream, or the
// read error.
func (r *sseReader) next() (sseMessage, error) {
	var (
		m       sseMessage
		data    strings.Builder
		hasData bool
	)
	for {
		l, err := r.line()
		if err != nil {
			if err == io.ErrUnexpectedEOF {
				err = io.EOF // an unfinished event is dropped
			}
			return sseMessage{}, err
		}
		if !r.started {
			r.started = true
			l = strings.TrimPrefix(l, "\ufeff")
		}
		if l == "" {
			if hasData {
				m.Data = strings.TrimSuffix(data.String(), "\n")
				m.ID, m.HasID = r.lastID, r.hasLastID
				return m, nil
			}
			m, hasData = sseMessage{}, false
			data.Reset()
			continue
		}
		if l[0] == ':' {
			continue
		}
		field, value, found := strings.Cut(l, ":")
		if found {
			value = strings.TrimPrefix(value, " ")
		}
		switch field {
		case "event":
			m.Event = value
		case "data":
			data.WriteString(value)
			data.WriteByte('\n')
			hasData = true
		case "id":
			if !strings.ContainsRune(value, 0) {
				r.lastID, r.hasLastID = value, true
			}
		}
	}
}
