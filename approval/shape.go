package approval

// Limits on the shape of JSON input, part of the API contract. Every face
// checks them, with the jsonstrict package, before it decodes a body.
//
// Nesting depth counts objects and arrays: {} is 1 level deep, {"a":[]} 2.
// Deeper payloads broke common JSON readers of the list endpoint (many stop
// at a few hundred or a thousand levels) and blew up pretty-printers; 64
// levels leave room for any honest document. A body holds the payload one
// level down and policies a few more, so it gets a little more room.
const (
	// MaxPayloadDepth bounds the nesting of a request's payload, counted
	// from the payload's own root.
	MaxPayloadDepth = 64
	// MaxBodyDepth bounds the nesting of a whole request body.
	MaxBodyDepth = MaxPayloadDepth + 8
)
