// Command client asks a buildme server for a greeting and prints it. The server
// is -server, else $SERVER_URL, else http://localhost:8080.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"example.com/buildme/internal/greet"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	server := os.Getenv("SERVER_URL")
	if server == "" {
		server = "http://localhost:" + greet.DefaultPort
	}
	flag.StringVar(&server, "server", server, "base URL of the server")
	name := flag.String("name", "", "who to greet (default: the server's choice)")
	retries := flag.Int("retries", 10, "attempts while the server is not up yet")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println(version)
		return
	}

	u := strings.TrimRight(server, "/") + "/hello?name=" + url.QueryEscape(*name)
	answer, err := get(u, *retries)
	if err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(1)
	}
	fmt.Print(answer)
}

// get fetches u, retrying connection errors a few times so that a client
// started together with its server waits for it.
func get(u string, retries int) (string, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	var err error
	for attempt := 0; attempt <= retries; attempt++ {
		if attempt > 0 {
			time.Sleep(500 * time.Millisecond)
		}
		var resp *http.Response
		resp, err = client.Get(u)
		if err != nil {
			continue
		}
		body, readErr := io.ReadAll(resp.Body)
		resp.Body.Close()
		if readErr != nil {
			return "", readErr
		}
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("GET %s: %s", u, resp.Status)
		}
		return string(body), nil
	}
	return "", err
}
