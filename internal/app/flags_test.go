package app

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
)

func TestParse(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(Config) bool
		wantErr string
	}{
		{"defaults", nil, nil, func(o Config) bool {
			return o.Addr == ":8080" && o.Data == "data" && o.SnapshotInterval == 5*time.Second &&
				o.Rules.IdleReset == 5*time.Minute && o.Rules.ThrottleLimit == 50 && o.Rules.ThrottlePenalty == time.Minute
		}, ""},
		{"env fills", nil, map[string]string{"CTB_ADDR": "127.0.0.1:9", "CTB_THROTTLE_LIMIT": "7", "CTB_IDLE_RESET": "90s"},
			func(o Config) bool {
				return o.Addr == "127.0.0.1:9" && o.Rules.ThrottleLimit == 7 && o.Rules.IdleReset == 90*time.Second
			}, ""},
		{"flag beats env", []string{"--addr", ":1"}, map[string]string{"CTB_ADDR": ":2"},
			func(o Config) bool { return o.Addr == ":1" }, ""},
		{"origins", []string{"--allowed-origins", "http://a.example, https://b.example"}, nil,
			func(o Config) bool {
				return slices.Equal(o.AllowedOrigins, []string{"http://a.example", "https://b.example"})
			}, ""},
		{"bad env", nil, map[string]string{"CTB_SNAPSHOT_INTERVAL": "often"}, nil, "CTB_SNAPSHOT_INTERVAL"},
		{"bad flag", []string{"--throttle-limit", "many"}, nil, nil, "invalid value"},
		{"tiny interval", []string{"--snapshot-interval", "1ms"}, nil, nil, "at least 100ms"},
		{"stray argument", []string{"serve"}, nil, nil, "unexpected argument"},
		{"base path cleaned", []string{"--base-path", "game/"}, nil, func(o Config) bool { return o.BasePath == "/game" }, ""},
		{"root base path", []string{"--base-path", "/"}, nil, func(o Config) bool { return o.BasePath == "" }, ""},
		{"base path with dots", []string{"--base-path", "/a/../b"}, nil, nil, "plain path"},
		{"proxies", nil, map[string]string{"CTB_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7"}, func(o Config) bool { return len(o.TrustedProxies) == 2 }, ""},
		{"bad proxy", []string{"--trusted-proxies", "10.0.0.0/33"}, nil, nil, "not a CIDR"},
		{"cert without key", []string{"--tls-cert", "c.pem"}, nil, nil, "go together"},
		{"log format", []string{"--log-format", "xml"}, nil, nil, "text or json"},
		{"log level", nil, map[string]string{"CTB_LOG_LEVEL": "loud"}, nil, "--log-level"},
		{"limits from env", nil, map[string]string{"CTB_MAX_CONNS": "5", "CTB_SOCKETS_PER_IP": "0", "CTB_NEW_PLAYERS_PER_MINUTE": "3"},
			func(o Config) bool { return o.MaxConns == 5 && o.SocketsPerIP == 0 && o.NewPlayersPerMinute == 3 }, ""},
		{"negative cap", []string{"--max-conns", "-1"}, nil, nil, "negative"},
		{"connections per address by default", nil, nil, func(o Config) bool { return o.ConnsPerIP == 100 && o.ConnsPerIP > o.SocketsPerIP }, ""},
		{"connections per address from env", nil, map[string]string{"CTB_CONNS_PER_IP": "0"}, func(o Config) bool { return o.ConnsPerIP == 0 }, ""},
		{"negative connections per address", []string{"--conns-per-ip", "-5"}, nil, nil, "--conns-per-ip must not be negative"},
		{"ipv6 prefix by default", nil, nil, func(o Config) bool { return o.IPv6Prefix == 64 }, ""},
		{"ipv6 prefix from env", nil, map[string]string{"CTB_IPV6_PREFIX": "56"}, func(o Config) bool { return o.IPv6Prefix == 56 }, ""},
		{"ipv6 prefix of one address", []string{"--ipv6-prefix", "128"}, nil, func(o Config) bool { return o.IPv6Prefix == 128 }, ""},
		{"ipv6 prefix too short", []string{"--ipv6-prefix", "31"}, nil, nil, "--ipv6-prefix must be from 32 to 128"},
		{"ipv6 prefix too long", nil, map[string]string{"CTB_IPV6_PREFIX": "129"}, nil, "--ipv6-prefix must be from 32 to 128"},
		{"redis from env", nil, map[string]string{"CTB_REDIS_URL": "redis://127.0.0.1:6379/2"},
			func(o Config) bool { return o.Redis == "redis://127.0.0.1:6379/2" }, ""},
		{"redis snapshots less often", []string{"--redis", "redis://127.0.0.1:1"}, nil,
			func(o Config) bool { return o.SnapshotInterval == time.Minute }, ""},
		{"redis snapshots as told", []string{"--redis", "redis://127.0.0.1:1", "--snapshot-interval", "10s"}, nil,
			func(o Config) bool { return o.SnapshotInterval == 10*time.Second }, ""},
		{"bot rules", []string{"--bot-action", "hide", "--bot-rate", "15", "--bot-regularity", "0"}, map[string]string{"CTB_FORGET_UNPLAYED": "48h"},
			func(o Config) bool {
				return o.Rules.Bots.Action == game.BotHide && o.Rules.Bots.Rate == 15 && o.Rules.Bots.Regularity == 0 && o.ForgetUnplayed == 48*time.Hour
			}, ""},
		{"bad bot action", []string{"--bot-action", "ban"}, nil, nil, "flag, throttle or hide"},
		{"bad bot window", []string{"--bot-window", "1ms"}, nil, nil, "bot window"},
		{"tiny forget", []string{"--forget-unplayed", "1s"}, nil, nil, "forget-unplayed"},
		{"bad redis URL", []string{"--redis", "http://user:hunter2@example.com"}, nil, nil, "redis://"},
		{"short secret", nil, map[string]string{"CTB_SECRET": "short"}, nil, "at least 16"},
		{"secrets from env only", nil, map[string]string{"CTB_SECRET": "long enough secret value", "CTB_ADMIN_TOKEN": "t"},
			func(o Config) bool { return o.Secret == "long enough secret value" && o.AdminToken == "t" }, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			inv, err := Parse(c.args, func(k string) string { return c.env[k] }, &out)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err %v, want it to mention %q", err, c.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("the error shows a password: %v", err)
				}
				return
			}
			if err != nil || inv.Command != Serve || !c.check(inv.Config) {
				t.Fatalf("config %+v, command %v, err %v", inv.Config, inv.Command, err)
			}
		})
	}
}

func TestParseCommands(t *testing.T) {
	env := func(k string) string { return map[string]string{"CTB_REDIS_URL": "redis://127.0.0.1:1"}[k] }
	noEnv := func(string) string { return "" }
	cases := []struct {
		args    []string
		getenv  func(string) string
		want    Command
		file    string
		force   bool
		wantErr string
	}{
		{[]string{"--healthcheck"}, noEnv, Healthcheck, "", false, ""},
		{[]string{"--version"}, noEnv, Version, "", false, ""},
		{[]string{"--help"}, noEnv, Help, "", false, ""},
		{[]string{"import", "--force", "old.csv"}, env, Import, "old.csv", true, ""},
		{[]string{"export"}, env, Export, "", false, ""},
		{[]string{"import"}, noEnv, 0, "", false, "give --redis"},
		{[]string{"export", "a.csv", "b.csv"}, env, 0, "", false, "unexpected argument"},
		{[]string{"export", "--force"}, env, 0, "", false, "not defined"},
		{[]string{"serve"}, noEnv, 0, "", false, "unexpected argument"},
	}
	for _, c := range cases {
		var out bytes.Buffer
		inv, err := Parse(c.args, c.getenv, &out)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%v: err %v, want it to mention %q", c.args, err, c.wantErr)
			}
			continue
		}
		if err != nil || inv.Command != c.want || inv.File != c.file || inv.Force != c.force {
			t.Errorf("%v: %+v, %v", c.args, inv, err)
		}
	}
}

func TestDefaultsAreValid(t *testing.T) {
	c := Defaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("the defaults do not validate: %v", err)
	}
	if c.Tick != 100*time.Millisecond || c.SnapshotInterval != 5*time.Second || c.Rules.ThrottleLimit != 50 {
		t.Fatalf("defaults %+v", c)
	}
}
