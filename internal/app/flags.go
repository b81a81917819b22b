package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/clickthebutton/clickthebutton/game"
)

// Command is what a command line asks for.
type Command int

// The commands.
const (
	// Serve runs the game: `clickthebutton [flags]`.
	Serve Command = iota
	// Import loads a scores.csv into an empty Redis game: `clickthebutton import [flags] [FILE]`.
	Import
	// Export writes a Redis game to a scores.csv: `clickthebutton export [flags] [FILE]`.
	Export
	// Healthcheck probes /readyz of the server running with these flags.
	Healthcheck
	// Version prints the version.
	Version
	// Help printed the usage; nothing more to do.
	Help
)

// Invocation is a parsed command line.
type Invocation struct {
	Command Command
	Config  Config
	// File is the scores file of import and export; "" means <Data>/scores.csv.
	File string
	// Force lets import add to a Redis game that holds players already.
	Force bool
}

// envName is the environment variable of a flag: CTB_ and the name in capitals,
// dashes as underscores; CTB_REDIS_URL for --redis, the name self-hosters look for.
func envName(flagName string) string {
	if flagName == "redis" {
		return "CTB_REDIS_URL"
	}
	return "CTB_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// commandOnly flags act on one run only and have no environment variable.
var commandOnly = map[string]bool{"version": true, "healthcheck": true, "force": true}

// Parse reads a command line and the environment into an Invocation. Every flag not
// given on the command line is filled from its environment variable; what neither
// sets keeps its value from Defaults. Secrets come from the environment only.
func Parse(args []string, getenv func(string) string, out io.Writer) (Invocation, error) {
	inv := Invocation{Config: Defaults()}
	if len(args) > 0 {
		switch args[0] {
		case "import":
			inv.Command, args = Import, args[1:]
		case "export":
			inv.Command, args = Export, args[1:]
		}
	}
	c := &inv.Config
	fs := flag.NewFlagSet("clickthebutton", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.Data, "data", c.Data, "folder for scores.csv, secret.key and the lock (created, or made private, with mode 0700)")
	fs.StringVar(&c.Redis, "redis", c.Redis, "keep the game in Redis at this URL, shared by every node pointed at it: redis://[user:password@]host:port[/db], rediss:// for TLS; a Redis Cluster works the same (empty: in memory, with scores.csv)")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "log format: text or json")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log level: debug, info, warn or error")
	// The game itself; import and export need none of it.
	if inv.Command == Serve {
		fs.StringVar(&c.Addr, "addr", c.Addr, "address to listen on")
		fs.StringVar(&c.BasePath, "base-path", c.BasePath, "serve the page, API and WebSocket under this sub-path, e.g. /game (probes stay at the root)")
		fs.DurationVar(&c.SnapshotInterval, "snapshot-interval", c.SnapshotInterval, "how often scores.csv is written when scores changed (with --redis: by one node at a time, every "+c.RedisSnapshotInterval.String()+" unless set)")
		fs.DurationVar(&c.Rules.IdleReset, "idle-reset", c.Rules.IdleReset, "time without a counted click after which a score goes back to 0")
		fs.IntVar(&c.Rules.ThrottleLimit, "throttle-limit", c.Rules.ThrottleLimit, "click attempts allowed per throttle window before a player is throttled")
		fs.DurationVar(&c.Rules.ThrottleWindow, "throttle-window", c.Rules.ThrottleWindow, "window the throttle limit is counted over")
		fs.DurationVar(&c.Rules.ThrottlePenalty, "throttle-penalty", c.Rules.ThrottlePenalty, "while throttled, one click per this period counts; the throttle lifts after one such period under the limit")
		fs.DurationVar(&c.Tick, "tick", c.Tick, "how often the leaderboard is published to every player")
		// Fair play (docs/fair-play.md).
		fs.Float64Var(&c.Rules.Bots.Rate, "bot-rate", c.Rules.Bots.Rate, "flag a player as a bot who keeps up more than this many click attempts a second over a whole --bot-window")
		fs.DurationVar(&c.Rules.Bots.Window, "bot-window", c.Rules.Bots.Window, "window of the --bot-rate rule")
		fs.Float64Var(&c.Rules.Bots.Regularity, "bot-regularity", c.Rules.Bots.Regularity, "flag a player as a bot whose intervals between attempts, over the last ~32, vary less than this (their coefficient of variation) at --bot-regular-rate or faster (0: off)")
		fs.Float64Var(&c.Rules.Bots.RegularRate, "bot-regular-rate", c.Rules.Bots.RegularRate, "clicks a second from which the --bot-regularity rule applies")
		fs.Var((*botActionValue)(&c.Rules.Bots.Action), "bot-action", "what a flagged player gets: flag (listed for moderators only), throttle (one click a minute, as the throttle) or hide (kept off the public board until cleared)")
		fs.DurationVar(&c.ForgetUnplayed, "forget-unplayed", c.ForgetUnplayed, "forget players who never counted a click after this long (0: keep everyone); players who clicked are never dropped")
		fs.Var((*listValue)(&c.AllowedOrigins), "allowed-origins", "comma-separated extra origins allowed to open the WebSocket, e.g. https://example.com")
		fs.Var((*prefixesValue)(&c.TrustedProxies), "trusted-proxies", "comma-separated CIDRs or addresses of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed")
		fs.IntVar(&c.MaxConns, "max-conns", c.MaxConns, "connections open at once, sockets included; more are answered 503 (0: no cap)")
		fs.IntVar(&c.NewPlayersPerMinute, "new-players-per-minute", c.NewPlayersPerMinute, "players one client address may create per minute; more get 429 (0: no cap)")
		fs.IntVar(&c.SocketsPerIP, "sockets-per-ip", c.SocketsPerIP, "WebSockets one client address may hold open; more get 429 (0: no cap)")
		fs.IntVar(&c.ConnsPerIP, "conns-per-ip", c.ConnsPerIP, "connections one client address may hold open at once, sockets and keep-alive included; more are answered 429 (0: no cap). "+
			"The default, 1% of --max-conns, keeps one address from taking them all, yet leaves room over --sockets-per-ip for a household or office behind one address (a socket per tab, a few short connections per page load). Peers in --trusted-proxies are not counted")
		fs.IntVar(&c.IPv6Prefix, "ipv6-prefix", c.IPv6Prefix, "prefix length (32 to 128) by which the per-address limits group IPv6 clients, since one subscriber holds a whole /64; IPv4 clients count by their whole address")
		fs.StringVar(&c.TLSCert, "tls-cert", c.TLSCert, "PEM certificate file: serve HTTPS directly (with --tls-key)")
		fs.StringVar(&c.TLSKey, "tls-key", c.TLSKey, "PEM private key file for --tls-cert")
		fs.StringVar(&c.MetricsAddr, "metrics-addr", c.MetricsAddr, "serve /metrics on this address only (e.g. 127.0.0.1:9090); empty serves it at /metrics on --addr")
		fs.StringVar(&c.PprofAddr, "pprof-addr", c.PprofAddr, "serve Go's profiler (net/http/pprof) on this address, for diagnosing load; keep it on loopback, e.g. 127.0.0.1:6060")
	}
	var healthcheck, version bool
	if inv.Command == Serve {
		fs.BoolVar(&healthcheck, "healthcheck", false, "probe /readyz of the server running with these flags and exit 0 when ready, 1 otherwise (for containers without curl)")
		fs.BoolVar(&version, "version", false, "print the version and exit")
	}
	if inv.Command == Import {
		fs.BoolVar(&inv.Force, "force", false, "add the file's players to a Redis game that holds players already (ids already there are kept as they are)")
	}
	fs.Usage = func() { usage(out, fs, inv.Command) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			inv.Command = Help
			return inv, nil
		}
		return inv, err
	}
	switch {
	case inv.Command == Serve && fs.NArg() > 0:
		return inv, fmt.Errorf("unexpected argument %q (commands: import, export; see --help)", fs.Arg(0))
	case fs.NArg() > 1:
		return inv, fmt.Errorf("unexpected argument %q after the file", fs.Arg(1))
	case fs.NArg() == 1:
		inv.File = fs.Arg(0)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if commandOnly[f.Name] || set[f.Name] || err != nil {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %w", envName(f.Name), v, e)
			}
		}
	})
	if err != nil {
		return inv, err
	}
	c.Secret, c.AdminToken = getenv("CTB_SECRET"), getenv("CTB_ADMIN_TOKEN")
	if c.Redis != "" && !set["snapshot-interval"] && getenv(envName("snapshot-interval")) == "" {
		c.SnapshotInterval = c.RedisSnapshotInterval
	}
	switch {
	case healthcheck:
		inv.Command = Healthcheck
	case version:
		inv.Command = Version
	}
	if (inv.Command == Import || inv.Command == Export) && c.Redis == "" {
		return inv, errors.New("import and export move a game between scores.csv and Redis: give --redis URL (or CTB_REDIS_URL)")
	}
	return inv, c.Validate()
}

func usage(out io.Writer, fs *flag.FlagSet, cmd Command) {
	switch cmd {
	case Import:
		fmt.Fprint(out, `Usage: clickthebutton import [flags] [FILE]

Loads FILE (default <data>/scores.csv, the file a single server writes) into the
Redis game at --redis, which must be empty unless --force is given. The whole file
is checked before anything is written; the player count and click sum are checked
after. A secret.key next to the file becomes the game's cookie key when Redis has
none and CTB_SECRET is not set, so the players keep their identities.

Flags:
`)
	case Export:
		fmt.Fprint(out, `Usage: clickthebutton export [flags] [FILE]

Writes the Redis game at --redis to FILE (default <data>/scores.csv) atomically, in
the format a single server loads; also writes the game's cookie key as secret.key
next to it when no such file exists, so that the players keep their identities.

Flags:
`)
	default:
		fmt.Fprint(out, `Usage: clickthebutton [flags]
       clickthebutton import|export [flags] [FILE]   (move a game between scores.csv and Redis; import --help)

Runs Click the Button. Every flag can also be set with the environment variable
shown in brackets; a flag on the command line wins. Secrets are environment only:
CTB_SECRET signs cookies (without it a key is kept in <data>/secret.key, or in Redis
with --redis) and CTB_ADMIN_TOKEN turns on the moderation API.

Flags:
`)
	}
	fs.VisitAll(func(f *flag.Flag) {
		if commandOnly[f.Name] {
			fmt.Fprintf(out, "  --%s\n    \t%s\n", f.Name, f.Usage)
			return
		}
		fmt.Fprintf(out, "  --%s (%s, default %q)\n    \t%s\n", f.Name, envName(f.Name), f.DefValue, f.Usage)
	})
}

// botActionValue is the --bot-action flag.
type botActionValue game.BotAction

func (v *botActionValue) String() string { return game.BotAction(*v).String() }

func (v *botActionValue) Set(s string) error {
	a, err := game.ParseBotAction(s)
	*v = botActionValue(a)
	return err
}

// listValue is a comma-separated list flag.
type listValue []string

func (l *listValue) String() string { return strings.Join(*l, ",") }

func (l *listValue) Set(s string) error {
	*l = splitList(s)
	return nil
}

// prefixesValue is a comma-separated list of CIDRs; a bare address means itself alone.
type prefixesValue []netip.Prefix

func (p *prefixesValue) String() string {
	var s []string
	for _, x := range *p {
		s = append(s, x.String())
	}
	return strings.Join(s, ",")
}

func (p *prefixesValue) Set(s string) error {
	var out []netip.Prefix
	for _, f := range splitList(s) {
		if pr, err := netip.ParsePrefix(f); err == nil {
			out = append(out, pr.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return fmt.Errorf("%q is not a CIDR or an address", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	*p = out
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
