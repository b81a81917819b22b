package game

import (
	"fmt"
	"math"
	"sync/atomic"
	"time"
)

// Bot detection beyond the throttle (docs/fair-play.md). The throttle stops what clicks
// more than ThrottleLimit times in a window; a script that stays under it is caught by
// one of two rules on its click timing:
//
//   - sustained rate: more than BotRate attempts a second, over a whole BotWindow;
//     nobody keeps up 20 a second for 10 seconds by hand;
//   - machine regularity: the intervals between attempts, over about the last 32, vary
//     less than BotRegularity (their coefficient of variation, the standard deviation
//     over the mean) while coming at least BotRegularRate a second. People's intervals
//     at those speeds vary by 10% and more; a timer's by well under 1%.
//
// Both are kept per player in two words updated by compare-and-swap, so scoring a click
// takes no lock and allocates nothing. Everything here is the engine's arithmetic; the
// Redis backend runs the same arithmetic in its click script.

// BotAction is what a player flagged as a bot gets.
type BotAction int

// The actions.
const (
	// BotFlag lists the player for moderators (GET /api/admin/suspects) and nothing else.
	BotFlag BotAction = iota
	// BotThrottle throttles the player as the seed's rule does, until a moderator clears
	// the flag: one counted click per ThrottlePenalty, and the page's notice.
	BotThrottle
	// BotHide keeps the player off the public board until a moderator clears the flag.
	BotHide
)

// ParseBotAction reads "flag", "throttle" or "hide".
func ParseBotAction(s string) (BotAction, error) {
	switch s {
	case "flag":
		return BotFlag, nil
	case "throttle":
		return BotThrottle, nil
	case "hide":
		return BotHide, nil
	}
	return 0, fmt.Errorf("bot action must be flag, throttle or hide, got %q", s)
}

// String returns the action's name, as ParseBotAction reads it.
func (a BotAction) String() string {
	return [...]string{"flag", "throttle", "hide"}[a]
}

// BotRule names the rule that flagged a player.
type BotRule int

// The rules.
const (
	// RuleSustained: more than BotRate attempts a second over a BotWindow.
	RuleSustained BotRule = iota + 1
	// RuleRegular: intervals steadier than BotRegularity.
	RuleRegular
)

// String names the rule for the admin API.
func (r BotRule) String() string {
	switch r {
	case RuleSustained:
		return "sustained_rate"
	case RuleRegular:
		return "regular_intervals"
	}
	return "none"
}

// Suspect is the evidence against a flagged player.
type Suspect struct {
	// Rule is the rule that flagged the player.
	Rule BotRule
	// At is when.
	At time.Time
	// Rate is the attempts per second the player kept up: over the sustained-rate
	// window for RuleSustained, from the mean interval for RuleRegular.
	Rate float64
	// CV is the coefficient of variation of the recent intervals (0 when too few).
	CV float64
	// Samples is how many intervals the CV stands on (saturates at 255).
	Samples int
}

// The timing word: a saturating sample count, then the exponentially weighted mean and
// variance of the intervals between attempts, in units of 10 µs (mean) and (10 µs)²
// (variance). A weight of 1/16 remembers about the last 32 intervals.
const (
	timingUnit    = 10 * time.Microsecond
	timingShift   = 4       // weight 1/16
	maxInterval   = 1 << 20 // 10.5 s in units: a longer pause counts as this long
	minSamples    = 32
	sampleBits    = 8
	meanBits      = 24
	sampleMask    = 1<<sampleBits - 1
	meanMask      = 1<<meanBits - 1
	varianceShift = sampleBits + meanBits
)

func packTiming(n, mean, variance uint64) uint64 {
	return n | mean<<sampleBits | min(variance, math.MaxUint32)<<varianceShift
}

func unpackTiming(w uint64) (n, mean, variance uint64) {
	return w & sampleMask, w >> sampleBits & meanMask, w >> varianceShift
}

// addInterval folds one interval d (in units) into a timing word.
func addInterval(w uint64, d uint64) uint64 {
	n, mean, variance := unpackTiming(w)
	d = min(d, maxInterval)
	if n == 0 {
		return packTiming(1, d, 0)
	}
	// West's update of an exponentially weighted mean and variance, in integers:
	// diff = d - mean; mean += diff/16; variance = (1-1/16)(variance + diff²/16).
	diff := int64(d) - int64(mean)
	newMean := int64(mean) + diff>>timingShift
	if newMean < 0 {
		newMean = 0
	}
	sq := uint64(diff*diff) >> timingShift
	newVar := variance + sq
	newVar -= newVar >> timingShift
	return packTiming(min(n+1, sampleMask), uint64(newMean), newVar)
}

// cv is the coefficient of variation of a timing word, and the attempts per second
// its mean interval stands for.
func cv(w uint64) (coefficient, rate float64, samples int) {
	n, mean, variance := unpackTiming(w)
	if n < 2 || mean == 0 {
		return 0, 0, int(n)
	}
	return math.Sqrt(float64(variance)) / float64(mean), float64(time.Second) / (float64(mean) * float64(timingUnit)), int(n)
}

// BotRules are the detection's thresholds.
type BotRules struct {
	// Rate is the attempts per second that, kept up over a whole Window, flag a player.
	Rate float64
	// Window is the window of the sustained-rate rule.
	Window time.Duration
	// Regularity is the coefficient of variation of the intervals below which a player
	// who clicks at least RegularRate a second is flagged. 0 turns the rule off.
	Regularity float64
	// RegularRate is the speed from which the regularity rule applies.
	RegularRate float64
	// Action is what a flagged player gets.
	Action BotAction
}

// DefaultBotRules are the thresholds docs/fair-play.md measures.
func DefaultBotRules() BotRules {
	return BotRules{Rate: 20, Window: 10 * time.Second, Regularity: 0.03, RegularRate: 10, Action: BotFlag}
}

// Validate reports the first threshold that cannot work.
func (r BotRules) Validate() error {
	switch {
	case r.Rate <= 0:
		return fmt.Errorf("bot rate must be positive, got %v", r.Rate)
	case r.Window < time.Second || r.Window > time.Hour:
		return fmt.Errorf("bot window must be between 1s and 1h, got %s", r.Window)
	case r.Rate*r.Window.Seconds() >= attemptMask:
		return fmt.Errorf("bot rate × window must be below %d attempts", attemptMask)
	case r.Regularity < 0 || r.Regularity >= 1:
		return fmt.Errorf("bot regularity must be in [0, 1), got %v", r.Regularity)
	case r.RegularRate <= 0:
		return fmt.Errorf("bot regular rate must be positive, got %v", r.RegularRate)
	}
	return nil
}

// limit is how many attempts in one Window flag a player.
func (r BotRules) limit() uint64 { return uint64(r.Rate * r.Window.Seconds()) }

// judge returns the rule a timing word breaks, if any.
func (r BotRules) judge(w uint64) BotRule {
	if r.Regularity == 0 {
		return 0
	}
	c, rate, n := cv(w)
	if n >= minSamples && rate >= r.RegularRate && c < r.Regularity {
		return RuleRegular
	}
	return 0
}

// botState is one player's detection: the sustained-rate window, the timing word and,
// once flagged, the evidence. Every field is an atomic.
type botState struct {
	rateWindow  atomic.Uint64 // start ms << attemptBits | attempts, over BotRules.Window
	timing      atomic.Uint64 // see packTiming
	lastAttempt atomic.Int64  // Unix ns of the last attempt; 0 means none yet
	flaggedAt   atomic.Int64  // Unix ns when flagged; 0 means not flagged
	evidence    atomic.Uint64 // see packEvidence
}

// observe scores one attempt at t (Unix ns) and returns the rule that flags the player
// now, or 0: only the attempt that crosses a threshold returns a rule, once, until a
// moderator clears the flag.
func (b *botState) observe(t int64, r BotRules) BotRule {
	attempts := countInWindow(&b.rateWindow, t, r.Window)
	// The interval since the previous attempt, whichever tab made it.
	var timing uint64
	if last := b.lastAttempt.Swap(t); last != 0 && t > last {
		d := uint64((t - last) / int64(timingUnit))
		for {
			w := b.timing.Load()
			timing = addInterval(w, d)
			if b.timing.CompareAndSwap(w, timing) {
				break
			}
		}
	} else {
		timing = b.timing.Load()
	}
	if b.flaggedAt.Load() != 0 {
		return 0
	}
	rule := r.judge(timing)
	if attempts > r.limit() {
		rule = RuleSustained
	}
	if rule == 0 {
		return 0
	}
	// The evidence first, so that whoever sees the flag sees why; two tabs crossing at
	// once write alike evidence, and one of them wins the flag.
	b.evidence.Store(packEvidence(rule, attempts, timing, r))
	if !b.flaggedAt.CompareAndSwap(0, t) {
		return 0
	}
	return rule
}

// packEvidence keeps what flagged a player in one word: the rule, the attempts per
// second (×100) and the coefficient of variation (×10000) and the samples behind it.
func packEvidence(rule BotRule, attempts, timing uint64, r BotRules) uint64 {
	c, rate, n := cv(timing)
	if rule == RuleSustained {
		rate = float64(attempts) / r.Window.Seconds()
	}
	return uint64(rule) | uint64(min(rate*100, 1<<24-1))<<8 | uint64(min(c*10000, 1<<24-1))<<32 | uint64(n)<<56
}

// suspect returns the evidence, when the player is flagged.
func (b *botState) suspect() (Suspect, bool) {
	at := b.flaggedAt.Load()
	if at == 0 {
		return Suspect{}, false
	}
	e := b.evidence.Load()
	return Suspect{
		Rule:    BotRule(e & 0xff),
		At:      time.Unix(0, at).UTC(),
		Rate:    float64(e>>8&(1<<24-1)) / 100,
		CV:      float64(e>>32&(1<<24-1)) / 10000,
		Samples: int(e >> 56),
	}, true
}

// clear lifts the flag and forgets the timing, so that the player starts afresh.
func (b *botState) clear() {
	b.timing.Store(0)
	b.rateWindow.Store(0)
	b.flaggedAt.Store(0)
	b.evidence.Store(0)
}
