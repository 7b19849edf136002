package defense

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/gatehouse-id/gatehouse/app/ratelimit"
)

// Config holds every limit and threshold of the login defense. Start from
// DefaultConfig and change what differs.
type Config struct {
	// KeyPrefix starts every Redis key (default "gh:def:").
	KeyPrefix string
	// IPv4Prefix and IPv6Prefix size the subnet layer (default /24, /56).
	IPv4Prefix, IPv6Prefix int

	// Unknown are the address, subnet and global GCRA limits for attempts
	// from devices that are not trusted. The address's budget is shared by
	// everyone behind it; Shared lets busy shared addresses (carrier-grade
	// NAT, offices, VPNs) earn more, and names ranges known to be shared.
	Unknown Limits
	// Trusted are the limits of logins that present an authentic
	// trusted-device token for the account they name: per device, per
	// account and region-wide, never the address's budget, so thousands of
	// returning users behind one address do not lock each other out. Their
	// failures still count per address and subnet. The two classes use
	// separate buckets, so a flood from unknown devices never exhausts the
	// budget of users on their usual device.
	Trusted TrustedLimits
	// Shared recognises shared addresses.
	Shared SharedConfig

	// Account is the failure lane of unknown devices on one account and
	// factor; TrustedAccount the lane of trusted devices (much higher
	// bounds: NIST SP 800-63B allows ≤ 100 consecutive failures).
	Account, TrustedAccount ratelimit.Policy
	// StepUpAfter: once this many failures are counted on the unknown-device
	// lane, a correct password still needs a second factor. 0: never.
	StepUpAfter int

	Challenge ChallengeConfig
	Detection DetectionConfig
	Risk      RiskConfig
	// Elevated and Emergency say how the modes harden unknown devices.
	Elevated, Emergency ModeProfile
	Auto                AutoModeConfig
	// ModeCacheTTL is how long a server trusts its copy of the shared mode
	// (default 1 s).
	ModeCacheTTL time.Duration

	// ProbeInterval is how long the in-process fallback serves after a
	// Redis failure before Redis is tried again (default 1 s).
	ProbeInterval time.Duration
	// FallbackMaxKeys bounds the in-process fallback (default 200,000).
	FallbackMaxKeys int
}

// Limits are the GCRA limits of unknown devices.
type Limits struct {
	Address, Subnet, Global ratelimit.Limit
}

// TrustedLimits are the limits of trusted devices.
type TrustedLimits struct {
	// Device and Account are GCRA limits per device and per account;
	// Global is the region's, for every trusted device together.
	Device, Account, Global ratelimit.Limit
	// AddressFailures and SubnetFailures bound the failed attempts of
	// trusted devices from one address / subnet within a sliding minute:
	// beyond them every trusted device there must solve a challenge, so a
	// handful of stolen device tokens cannot guess from an address at the
	// rate its real users log in.
	AddressFailures, SubnetFailures int
}

// SharedConfig recognises shared addresses: an address (for IPv6, its /64)
// from which many distinct accounts log in successfully earns a budget for
// unknown devices on top of Unknown.Address, on a GCRA bucket of its own
// drawn only once the ordinary one is empty. The earned rate is one
// attempt per minute for each AccountsPerAttempt distinct accounts (burst
// twice that), up to MaxPerMinute; the count slides over two windows, so
// an address that stops succeeding loses it within two Windows. When, in
// the last RatioWindow, at least MinAttempts unknown-device attempts from
// the address were checked and FailureRatio of them failed, the earned
// budget is withdrawn at once, for WithdrawFor. While an address has its
// earned budget, detection expects up to FailingShare of its successful
// accounts to fail too (typos), instead of Detection.AddressAccounts.
type SharedConfig struct {
	// Enabled turns earning on (operator Ranges apply either way).
	Enabled            bool
	Window             time.Duration
	MinAccounts        int
	AccountsPerAttempt int
	MaxPerMinute       int
	FailureRatio       float64
	MinAttempts        int
	RatioWindow        time.Duration
	WithdrawFor        time.Duration
	FailingShare       float64
	// Ranges are known shared ranges with their own budget.
	Ranges []SharedRange
}

// SharedRange is an operator-declared shared range (GATEHOUSE_DEFENSE_SHARED_RANGES).
type SharedRange struct {
	Prefix netip.Prefix
	// PerMinute replaces Unknown.Address for each address of the range
	// (attempts per minute from unknown devices, burst twice that); the
	// subnet limit of those addresses grows by the same factor.
	PerMinute int
}

// ChallengeConfig tunes proof-of-work challenges.
type ChallengeConfig struct {
	// TTL is how long a challenge may be solved (default 2 min).
	TTL time.Duration
	// BaseDifficulty is the leading zero bits asked at the challenge score;
	// one more bit per RiskPerBit points above it, up to MaxDifficulty.
	BaseDifficulty, MaxDifficulty, RiskPerBit int
	// Tolerance is how many bits below the current requirement a solution
	// may be (risk moves between issue and solve).
	Tolerance int
}

// DetectionConfig tunes stuffing and spray detection. Counts are of
// failures within Window; a signal weighs fully at its threshold and up to
// twice at twice it.
type DetectionConfig struct {
	Window time.Duration
	// AddressAccounts, SubnetAccounts: distinct accounts that failed from
	// one address / subnet.
	AddressAccounts, SubnetAccounts int
	// SprayAccounts: distinct accounts that failed with one password.
	SprayAccounts int
	// SubnetFailureRatio weighs a subnet's failure ratio once it has seen
	// SubnetMinAttempts attempts.
	SubnetFailureRatio float64
	SubnetMinAttempts  int
	// HistoryTTL is how long a successful login vouches for its address.
	HistoryTTL time.Duration
	// FingerprintBytes is the length the password fingerprint (an HMAC) is
	// truncated to (default 8).
	FingerprintBytes int
}

// RiskConfig weighs the signals into a score and sets the score's bounds.
type RiskConfig struct {
	UnknownDevice, NoHistory                int
	AddressAccounts, SubnetAccounts, Spray  int
	SubnetFailures, AccountFailures         int
	ChallengeScore, StepUpScore, BlockScore int
	// BlockFor is the Retry-After of a blocked attempt.
	BlockFor time.Duration
}

// ModeProfile is how a defense mode hardens unknown devices.
type ModeProfile struct {
	// ThresholdDivisor divides the unknown-device lane's ChallengeAfter,
	// StepUpAfter and LockAfter (at least 1 each).
	ThresholdDivisor int
	// LimitDivisor divides the unknown-device GCRA rates and bursts.
	LimitDivisor int
	// RiskBonus is added to every unknown device's score.
	RiskBonus int
	// DifficultyBonus adds leading zero bits to every challenge.
	DifficultyBonus int
}

// AutoModeConfig raises the mode by itself when the region's failure ratio
// (failed password checks over password checks of unknown devices, across
// this and the previous Window, once there are MinAttempts of them) crosses
// a level, for at least Hold. Refused attempts and trusted devices' logins
// do not count.
//
// The same ratio over the last BurstWindow alone (sliding, also once there
// are MinAttempts) raises it too: a burst that starts after a quiet minute
// of successes would otherwise have to outnumber them before the minute's
// ratio noticed it, and until the mode rises each of its attempts that
// passes the limits costs a hash.
type AutoModeConfig struct {
	Enabled                       bool
	Window, Hold                  time.Duration
	BurstWindow                   time.Duration
	MinAttempts                   int
	ElevatedRatio, EmergencyRatio float64
}

// DefaultConfig returns the defaults: 5 failures in 10 min → challenge, 10
// → second factor, 20 → a 5 min lock doubling up to 4 h; trusted devices
// challenged after 50 and locked after 100.
func DefaultConfig() Config {
	acct := ratelimit.Policy{ChallengeAfter: 5, LockAfter: 20, Window: 10 * time.Minute,
		LockBase: 5 * time.Minute, LockMax: 4 * time.Hour, LockMemory: 24 * time.Hour}
	trusted := acct
	trusted.ChallengeAfter, trusted.LockAfter = 50, 100
	return Config{
		KeyPrefix:  "gh:def:",
		IPv4Prefix: 24, IPv6Prefix: 56,
		Unknown: Limits{Address: ratelimit.PerMinute(30, 60), Subnet: ratelimit.PerMinute(300, 600),
			Global: ratelimit.PerSecond(1000, 2000)},
		Trusted: TrustedLimits{Device: ratelimit.PerMinute(10, 20), Account: ratelimit.PerMinute(30, 60),
			Global: ratelimit.PerSecond(2000, 4000), AddressFailures: 120, SubnetFailures: 600},
		Shared: SharedConfig{Enabled: true, Window: time.Hour, MinAccounts: 20, AccountsPerAttempt: 10, MaxPerMinute: 300,
			FailureRatio: 0.5, MinAttempts: 10, RatioWindow: time.Minute, WithdrawFor: 15 * time.Minute, FailingShare: 0.2},
		Account: acct, TrustedAccount: trusted, StepUpAfter: 10,
		Challenge: ChallengeConfig{TTL: 2 * time.Minute, BaseDifficulty: 16, MaxDifficulty: 22, RiskPerBit: 20, Tolerance: 1},
		Detection: DetectionConfig{Window: time.Hour, AddressAccounts: 10, SubnetAccounts: 50, SprayAccounts: 20,
			SubnetFailureRatio: 0.8, SubnetMinAttempts: 20, HistoryTTL: 30 * 24 * time.Hour, FingerprintBytes: 8},
		Risk: RiskConfig{UnknownDevice: 10, NoHistory: 10, AddressAccounts: 40, SubnetAccounts: 30, Spray: 60,
			SubnetFailures: 20, AccountFailures: 10, ChallengeScore: 50, StepUpScore: 80, BlockScore: 150,
			BlockFor: 15 * time.Minute},
		Elevated:  ModeProfile{ThresholdDivisor: 2, LimitDivisor: 2, RiskBonus: 30, DifficultyBonus: 1},
		Emergency: ModeProfile{ThresholdDivisor: 4, LimitDivisor: 4, RiskBonus: 60, DifficultyBonus: 2},
		Auto: AutoModeConfig{Enabled: true, Window: time.Minute, BurstWindow: 10 * time.Second, Hold: 10 * time.Minute, MinAttempts: 40,
			ElevatedRatio: 0.5, EmergencyRatio: 0.8},
		ModeCacheTTL:    time.Second,
		ProbeInterval:   time.Second,
		FallbackMaxKeys: 200_000,
	}
}

// Validate reports every unusable setting, naming each.
func (c Config) Validate() error {
	var errs []error
	bad := func(name string) { errs = append(errs, fmt.Errorf("defense: bad %s", name)) }
	if c.KeyPrefix == "" {
		bad("KeyPrefix")
	}
	if c.IPv4Prefix < 8 || c.IPv4Prefix > 32 {
		bad("IPv4Prefix")
	}
	if c.IPv6Prefix < 16 || c.IPv6Prefix > 128 {
		bad("IPv6Prefix")
	}
	for name, l := range map[string]ratelimit.Limit{"Unknown.Address": c.Unknown.Address, "Unknown.Subnet": c.Unknown.Subnet,
		"Unknown.Global": c.Unknown.Global, "Trusted.Device": c.Trusted.Device, "Trusted.Account": c.Trusted.Account,
		"Trusted.Global": c.Trusted.Global} {
		if !l.Valid() {
			bad(name)
		}
	}
	if c.Trusted.AddressFailures < 1 || c.Trusted.SubnetFailures < 1 {
		bad("Trusted.AddressFailures/SubnetFailures")
	}
	if sh := c.Shared; sh.Enabled && (sh.Window <= 0 || sh.MinAccounts < 1 || sh.AccountsPerAttempt < 1 || sh.MaxPerMinute < 1 ||
		sh.FailureRatio <= 0 || sh.FailureRatio > 1 || sh.MinAttempts < 1 || sh.RatioWindow <= 0 || sh.WithdrawFor <= 0 || sh.FailingShare < 0 || sh.FailingShare > 1) {
		bad("Shared")
	}
	for _, r := range c.Shared.Ranges {
		if !r.Prefix.IsValid() || r.Prefix != r.Prefix.Masked() || r.PerMinute < 1 {
			bad("Shared.Ranges " + r.Prefix.String())
		}
	}
	if !c.Account.Valid() {
		bad("Account")
	}
	if !c.TrustedAccount.Valid() {
		bad("TrustedAccount")
	}
	if c.StepUpAfter < 0 {
		bad("StepUpAfter")
	}
	ch := c.Challenge
	if ch.TTL <= 0 || ch.BaseDifficulty < 1 || ch.MaxDifficulty < ch.BaseDifficulty || ch.MaxDifficulty > MaxDifficulty ||
		ch.RiskPerBit < 1 || ch.Tolerance < 0 {
		bad("Challenge")
	}
	d := c.Detection
	if d.Window <= 0 || d.AddressAccounts < 1 || d.SubnetAccounts < 1 || d.SprayAccounts < 1 ||
		d.SubnetFailureRatio <= 0 || d.SubnetMinAttempts < 1 || d.HistoryTTL <= 0 || d.FingerprintBytes < 4 || d.FingerprintBytes > 32 {
		bad("Detection")
	}
	r := c.Risk
	if r.ChallengeScore < 1 || r.StepUpScore < r.ChallengeScore || r.BlockScore < r.StepUpScore || r.BlockFor <= 0 {
		bad("Risk")
	}
	for name, p := range map[string]ModeProfile{"Elevated": c.Elevated, "Emergency": c.Emergency} {
		if p.ThresholdDivisor < 1 || p.LimitDivisor < 1 || p.RiskBonus < 0 || p.DifficultyBonus < 0 {
			bad(name)
		}
	}
	if a := c.Auto; a.Enabled && (a.Window <= 0 || a.Hold <= 0 || a.BurstWindow <= 0 || a.BurstWindow > a.Window || a.MinAttempts < 1 ||
		a.ElevatedRatio <= 0 || a.EmergencyRatio < a.ElevatedRatio) {
		bad("Auto")
	}
	if c.ModeCacheTTL <= 0 || c.ProbeInterval <= 0 || c.FallbackMaxKeys < 1 {
		bad("ModeCacheTTL/ProbeInterval/FallbackMaxKeys")
	}
	return errors.Join(errs...)
}

// scaled divides a limit's rate and burst by div (at least 1 each).
func scaled(l ratelimit.Limit, div int) ratelimit.Limit {
	if div <= 1 {
		return l
	}
	return ratelimit.Limit{Rate: max(1, l.Rate/div), Burst: max(1, l.Burst/div), Period: l.Period}
}

// divided divides a threshold, keeping 0 (off) as 0 and others ≥ 1.
func divided(n, div int) int {
	if n == 0 || div <= 1 {
		return n
	}
	return max(1, n/div)
}
