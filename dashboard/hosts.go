package dashboard

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// DefaultAllowedHosts are the Hosts a dashboard answers when
// Options.AllowedHosts is nil: the loopback names, on any port.
var DefaultAllowedHosts = []string{"localhost", "127.0.0.1", "[::1]"}

// hostRule is one entry of Options.AllowedHosts: a host name or IP
// address, lower case without a trailing dot, and a port ("" for any).
type hostRule struct{ host, port string }

// hostRules is a parsed Options.AllowedHosts.
type hostRules struct {
	any   bool // "*"
	rules []hostRule
	text  string // the entries, for messages
}

func parseHosts(entries []string) (hostRules, error) {
	hr := hostRules{text: strings.Join(entries, ", ")}
	for _, e := range entries {
		if e == "*" {
			hr.any = true
			continue
		}
		r, err := parseHostEntry(e)
		if err != nil {
			return hostRules{}, err
		}
		hr.rules = append(hr.rules, r)
	}
	return hr, nil
}

func parseHostEntry(e string) (hostRule, error) {
	bad := func(why string) error {
		return fmt.Errorf("%w: allowed host %q: %s; want a name or IP address, optionally with :port "+
			"(\"dash.example.org\", \"10.0.0.5:8080\", \"[::1]:8080\"), or \"*\" for any", ErrInvalidOptions, e, why)
	}
	if e == "" || strings.ContainsAny(e, "/@?#%\\ \t\r\n") {
		return hostRule{}, bad("not a host")
	}
	host, port, err := net.SplitHostPort(e)
	switch {
	case err == nil:
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return hostRule{}, bad("bad port")
		}
	case strings.HasPrefix(e, "[") && strings.HasSuffix(e, "]"):
		host, port = e[1:len(e)-1], ""
	case strings.Contains(e, ":"):
		if _, err := netip.ParseAddr(e); err != nil {
			return hostRule{}, bad("not a host")
		}
		host, port = e, ""
	default:
		host, port = e, ""
	}
	if strings.ContainsAny(host, "[]") || (strings.Contains(host, ":") && !isIP(host)) {
		return hostRule{}, bad("not a host")
	}
	host = normalizeHost(host)
	if host == "" {
		return hostRule{}, bad("no host")
	}
	return hostRule{host: host, port: port}, nil
}

func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// normalizeHost lower-cases a name and drops its trailing dot; an IP
// address gets its canonical form.
func normalizeHost(h string) string {
	if ip, err := netip.ParseAddr(h); err == nil {
		return ip.String()
	}
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// allows reports whether a request's Host header names a host and port
// of the rules. A Host without a port has the scheme's default port.
func (hr hostRules) allows(r *http.Request) bool {
	if hr.any {
		return true
	}
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		host, port = r.Host, "80"
		if r.TLS != nil {
			port = "443"
		}
		switch {
		case strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]"):
			host = host[1 : len(host)-1]
		case strings.Contains(host, ":"):
			return false
		}
	}
	host = normalizeHost(host)
	if host == "" {
		return false
	}
	for _, rule := range hr.rules {
		if rule.host == host && (rule.port == "" || rule.port == port) {
			return true
		}
	}
	return false
}

// misdirected answers a request whose Host the dashboard does not serve:
// a page of another site whose name resolves to this server (DNS
// rebinding) sends its own name.
func (s *Server) misdirected(w http.ResponseWriter, r *http.Request) {
	s.opts.Logger.Info("refused request for another host", "host", r.Host, "method", r.Method, "path", r.URL.Path)
	msg := fmt.Sprintf("host %q is not served here: this dashboard answers only to %s, so that pages of other sites "+
		"cannot reach it through a name that resolves to its address; to use this name, add it with --allowed-hosts "+
		"(STAR_ALLOWED_HOSTS)", r.Host, s.hosts.text)
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeJSON(w, http.StatusMisdirectedRequest, map[string]string{"error": msg})
		return
	}
	http.Error(w, msg, http.StatusMisdirectedRequest)
}
