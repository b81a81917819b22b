package game

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// The detection on generated click streams: the scripts the rules are meant to catch
// are caught within 10 seconds, and simulated people are never caught. docs/fair-play.md
// reports these figures; TestBotDetectionFigures logs them.

// stream makes the attempt times (ns from 0) of one clicker, up to d.
type stream func(rng *rand.Rand, d time.Duration) []int64

// script clicks at rate a second, each interval off by a uniform jitter of ±jitter
// (a fraction of the interval).
func script(rate, jitter float64) stream {
	return func(rng *rand.Rand, d time.Duration) []int64 {
		var out []int64
		step := float64(time.Second) / rate
		for t := 0.0; t < float64(d); t += step * (1 + jitter*(2*rng.Float64()-1)) {
			out = append(out, int64(t))
		}
		return out
	}
}

// scriptAbsolute is script with an absolute jitter of ±jitter.
func scriptAbsolute(rate float64, jitter time.Duration) stream {
	return func(rng *rand.Rand, d time.Duration) []int64 {
		var out []int64
		step := float64(time.Second) / rate
		for t := 0.0; t < float64(d); t += step + float64(jitter)*(2*rng.Float64()-1) {
			out = append(out, int64(t))
		}
		return out
	}
}

// person is a simulated human: a favourite pace of 5 to 14 clicks a second that
// drifts, log-normal intervals (σ 0.15 to 0.45: intervals vary by 15% to 47%), bursts
// of faster clicking and pauses of one to twenty seconds.
func person(rng *rand.Rand, d time.Duration) []int64 {
	pace := 5 + 9*rng.Float64()
	sigma := 0.15 + 0.3*rng.Float64()
	var out []int64
	t := 0.0
	burst := 0
	for t < float64(d) {
		out = append(out, int64(t))
		rate := pace * (1 + 0.2*math.Sin(t/float64(time.Minute)+rng.Float64()))
		switch {
		case burst > 0:
			burst--
			rate *= 1.3
		case rng.Float64() < 0.01:
			burst = 5 + rng.IntN(16)
		case rng.Float64() < 0.005:
			t += float64(time.Second) * (1 + rng.ExpFloat64()*5) // a pause
			continue
		}
		median := float64(time.Second) / rate
		t += median * math.Exp(sigma*rng.NormFloat64())
	}
	return out
}

// flagged plays times through one detector and returns the rule that flagged it and
// when (ns from the first attempt), or 0.
func flagged(times []int64, r BotRules) (BotRule, time.Duration) {
	var b botState
	base := int64(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	for _, t := range times {
		if rule := b.observe(base+t, r); rule != 0 {
			return rule, time.Duration(t)
		}
	}
	return 0, 0
}

func TestBotRulesCatchScripts(t *testing.T) {
	rules := DefaultBotRules()
	for _, tc := range []struct {
		name string
		s    stream
		rule BotRule
	}{
		{"45/s with sub-millisecond jitter", scriptAbsolute(45, 500*time.Microsecond), RuleRegular},
		{"49/s with ±30% jitter", script(49, 0.3), RuleSustained},
		{"30/s with ±50% jitter", script(30, 0.5), RuleSustained},
		{"12/s with ±1% jitter", script(12, 0.01), RuleRegular},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			var worst time.Duration
			for range 200 {
				rule, at := flagged(tc.s(rng, time.Minute), rules)
				if rule != tc.rule || at > 10*time.Second {
					t.Fatalf("flagged by %v after %s, want %v within 10 s", rule, at, tc.rule)
				}
				worst = max(worst, at)
			}
			t.Logf("200 scripts: all flagged by %v, the slowest after %s", tc.rule, worst)
		})
	}
}

func TestBotRulesSparePeople(t *testing.T) {
	rules := DefaultBotRules()
	rng := rand.New(rand.NewPCG(3, 4))
	const people = 1000
	clicks := 0
	for i := range people {
		times := person(rng, 10*time.Minute)
		clicks += len(times)
		if rule, at := flagged(times, rules); rule != 0 {
			t.Fatalf("person %d (of %d) flagged by %v after %s", i, people, rule, at)
		}
	}
	t.Logf("%d simulated people, 10 minutes each, %d clicks: none flagged", people, clicks)
}

// TestBotDetectionFigures logs the margins behind docs/fair-play.md: how close people
// come to each threshold, and how far the scripts are below it.
func TestBotDetectionFigures(t *testing.T) {
	rules := DefaultBotRules()
	rng := rand.New(rand.NewPCG(5, 6))
	minCV, maxRate := math.Inf(1), 0.0
	for range 200 {
		var b botState
		base := int64(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
		for _, tm := range person(rng, 10*time.Minute) {
			b.observe(base+tm, rules)
			if c, rate, n := cv(b.timing.Load()); n >= minSamples && rate >= rules.RegularRate {
				minCV = math.Min(minCV, c)
			}
			maxRate = math.Max(maxRate, float64(b.rateWindow.Load()&attemptMask)/rules.Window.Seconds())
		}
	}
	t.Logf("200 people: lowest interval CV at %v+/s over %d samples: %.3f (threshold %.3f); highest rate over a %s window: %.1f/s (threshold %.0f/s)",
		rules.RegularRate, minSamples, minCV, rules.Regularity, rules.Window, maxRate, rules.Rate)
	if minCV < 2*rules.Regularity || maxRate > 0.9*rules.Rate {
		t.Fatalf("the simulated people come too close to a threshold: CV %.3f, rate %.1f/s", minCV, maxRate)
	}
}

func TestBotStateClearAndEvidence(t *testing.T) {
	rules := DefaultBotRules()
	var b botState
	base := int64(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	step := int64(time.Second / 40)
	var at int64
	for i := int64(0); ; i++ {
		if b.observe(base+i*step, rules) != 0 {
			at = base + i*step
			break
		}
	}
	s, ok := b.suspect()
	if !ok || s.Rule != RuleRegular || !s.At.Equal(time.Unix(0, at).UTC()) || math.Abs(s.Rate-40) > 0.5 || s.CV > 0.01 || s.Samples < minSamples {
		t.Fatalf("evidence %+v, %v", s, ok)
	}
	// Flagged once: later attempts report nothing new.
	if b.observe(at+step, rules) != 0 {
		t.Fatal("flagged twice")
	}
	b.clear()
	if _, ok := b.suspect(); ok {
		t.Fatal("cleared but still a suspect")
	}
	// Cleared, the player starts afresh: a few regular clicks are not enough again.
	for i := int64(2); i < 10; i++ {
		if b.observe(at+i*step, rules) != 0 {
			t.Fatal("flagged again right after a clear, on too few samples")
		}
	}
}

func TestBotRulesValidate(t *testing.T) {
	if err := DefaultBotRules().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, mod := range []func(*BotRules){
		func(r *BotRules) { r.Rate = 0 },
		func(r *BotRules) { r.Window = time.Millisecond },
		func(r *BotRules) { r.Regularity = 1 },
		func(r *BotRules) { r.RegularRate = -1 },
	} {
		r := DefaultBotRules()
		mod(&r)
		if r.Validate() == nil {
			t.Errorf("%+v validated", r)
		}
	}
	for _, s := range []string{"flag", "throttle", "hide"} {
		if a, err := ParseBotAction(s); err != nil || a.String() != s {
			t.Errorf("ParseBotAction(%q) = %v, %v", s, a, err)
		}
	}
	if _, err := ParseBotAction("ban"); err == nil {
		t.Error("ParseBotAction accepted ban")
	}
}

func BenchmarkBotObserve(b *testing.B) {
	rules := DefaultBotRules()
	var s botState
	base := int64(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s.observe(base+int64(i)*int64(70*time.Millisecond), rules)
	}
}
