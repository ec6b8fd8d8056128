package cards

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehousehq/gatehouse"
	"github.com/slack-go/slack"
)

// Block Kit limits this package renders within (docs.slack.dev reference).
const (
	MaxMessageBlocks = 50
	MaxViewBlocks    = 100
	MaxSectionText   = 3000
	MaxHeaderText    = 150
	MaxContextElems  = 10
	MaxFieldText     = 2000
	MaxButtonText    = 75
	MaxButtonValue   = 2000
	MaxOptionText    = 75
	MaxOptionValue   = 150
	MaxOptions       = 100
	MaxModalTitle    = 24
	MaxPlaceholder   = 150
	MaxLabel         = 2000
	MaxMetadata      = 3000
	MaxFallbackText  = 3000 // notification text; Slack allows 40k, nobody reads past this
)

// clip shortens s to at most n characters (runes), ending with "…".
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// esc escapes the three characters Slack's mrkdwn treats as control
// characters, so names and reasons cannot inject mentions or links.
func esc(s string) string { return mrkdwnEscaper.Replace(s) }

// Built once: a Replacer compiles its tables on first use.
var mrkdwnEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func plain(s string, n int) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, clip(s, n), false, false)
}

func md(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, clip(s, MaxSectionText), false, false)
}

func section(blockID, text string) *slack.SectionBlock {
	return slack.NewSectionBlock(md(text), nil, nil, slack.SectionBlockOptionBlockID(blockID))
}

func header(text string) *slack.HeaderBlock {
	return slack.NewHeaderBlock(plain(text, MaxHeaderText))
}

func contextMD(blockID string, texts ...string) *slack.ContextBlock {
	var els []slack.MixedElement
	for _, t := range texts {
		if t == "" || len(els) == MaxContextElems {
			continue
		}
		els = append(els, md(t))
	}
	if len(els) == 0 {
		els = append(els, md(" "))
	}
	return slack.NewContextBlock(blockID, els...)
}

func button(actionID, value, text string, style slack.Style) *slack.ButtonBlockElement {
	b := slack.NewButtonBlockElement(actionID, clip(value, MaxButtonValue), plain(text, MaxButtonText))
	b.Style = style
	return b
}

// lineSections packs lines into as few sections as possible (each at most
// MaxSectionText), spending at most budget blocks; lines that do not fit are
// summarised as "…and N more <noun>".
func lineSections(prefix string, lines []string, budget int, noun string) []slack.Block {
	if budget < 1 || len(lines) == 0 {
		return nil
	}
	var out []slack.Block
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, section(fmt.Sprintf("%s-%d", prefix, len(out)), cur.String()))
			cur.Reset()
		}
	}
	for i, l := range lines {
		l = clip(l, MaxSectionText-40)
		if cur.Len() > 0 && utf8.RuneCountInString(cur.String())+utf8.RuneCountInString(l)+1 > MaxSectionText-40 {
			flush()
		}
		if len(out) == budget-1 && cur.Len() == 0 && i < len(lines) {
			// Last block: fit what we can and say how many are left.
			rest := lines[i:]
			var b strings.Builder
			n := 0
			for _, r := range rest {
				r = clip(r, MaxSectionText-40)
				if utf8.RuneCountInString(b.String())+utf8.RuneCountInString(r)+1 > MaxSectionText-60 {
					break
				}
				if b.Len() > 0 {
					b.WriteByte('\n')
				}
				b.WriteString(r)
				n++
			}
			if more := len(rest) - n; more > 0 {
				fmt.Fprintf(&b, "\n_…and %d more %s_", more, noun)
			}
			out = append(out, section(fmt.Sprintf("%s-%d", prefix, len(out)), b.String()))
			return out
		}
		if cur.Len() > 0 {
			cur.WriteByte('\n')
		}
		cur.WriteString(l)
	}
	flush()
	return out
}

func riskBadge(r gatehouse.Risk) string {
	switch r {
	case gatehouse.RiskCritical:
		return ":red_circle: critical"
	case gatehouse.RiskHigh:
		return ":large_orange_circle: high"
	case gatehouse.RiskMedium:
		return ":large_yellow_circle: medium"
	case gatehouse.RiskLow:
		return ":white_circle: low"
	}
	return "unrated"
}

func reasons(rs []gatehouse.Reason) string {
	if len(rs) == 0 {
		return ""
	}
	parts := make([]string, 0, len(rs))
	for _, r := range rs {
		parts = append(parts, esc(r.String()))
	}
	return strings.Join(parts, "; ")
}

func person(id gatehouse.Identity) string {
	switch {
	case id.Name != "" && id.Email != "":
		return fmt.Sprintf("*%s* (%s)", esc(id.Name), esc(id.Email))
	case id.Email != "":
		return esc(id.Email)
	}
	return esc(id.Key())
}

func when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	// Slack renders <!date^…> in the reader's own zone; the fallback is UTC.
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), t.UTC().Format("2006-01-02 15:04 UTC"))
}

func title(s string) string {
	s = strings.ReplaceAll(s, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
