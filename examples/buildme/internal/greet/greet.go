// Package greet holds what the client and the server agree on: the greeting
// and the defaults, so that the example has a shared package as well as two
// commands.
package greet

import "strings"

// DefaultPort is the port the server listens on when neither -addr nor PORT
// says otherwise.
const DefaultPort = "8080"

// Message returns the greeting for name; an empty name greets the world.
func Message(name string) string {
	name = strings.TrimSpace(name)
	if name == "" {
		name = "world"
	}
	return "Hello, " + name + "!"
}
