package bot

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// scopeOf maps every slack-go call the bot makes to the bot scope Slack
// requires for the Web API method behind it ("" when none is needed: views
// answer a trigger, auth.test only needs a valid token).
var scopeOf = map[string]string{
	"PostMessageContext":         "chat:write",
	"UpdateMessageContext":       "chat:write",
	"PostEphemeralContext":       "chat:write",
	"OpenConversationContext":    "im:write",
	"GetUserInfoContext":         "users:read",
	"GetUserByEmailContext":      "users:read.email",
	"GetUserGroupMembersContext": "usergroups:read",
	"OpenViewContext":            "",
	"UpdateViewContext":          "",
	"PublishViewContext":         "",
	"AuthTestContext":            "",
	"PostWebhookContext":         "", // response_url: authorised by the URL itself
}

// eventType maps subscribed events to the slackevents type the bot handles.
var eventType = map[string]string{
	"app_home_opened": "AppHomeOpenedEvent",
	"user_change":     "UserChangeEvent",
}

// TestManifestGrantsExactlyWhatTheBotUses keeps slack-app-manifest.yaml, the
// bot's code and docs/slack.md in step: every Web API call the bot makes is
// covered by a scope, no scope is requested that nothing uses (least
// privilege), and the features the bot relies on are switched on.
func TestManifestGrantsExactlyWhatTheBotUses(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "slack-app-manifest.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Features struct {
			AppHome struct {
				HomeTab bool `yaml:"home_tab_enabled"`
			} `yaml:"app_home"`
			SlashCommands []struct {
				Command string `yaml:"command"`
			} `yaml:"slash_commands"`
		} `yaml:"features"`
		OAuth struct {
			Scopes struct {
				Bot []string `yaml:"bot"`
			} `yaml:"scopes"`
		} `yaml:"oauth_config"`
		Settings struct {
			Events struct {
				Bot []string `yaml:"bot_events"`
			} `yaml:"event_subscriptions"`
			Interactivity struct {
				Enabled bool `yaml:"is_enabled"`
			} `yaml:"interactivity"`
			SocketMode bool `yaml:"socket_mode_enabled"`
		} `yaml:"settings"`
	}
	if err := yaml.Unmarshal(raw, &m); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	if !m.Settings.SocketMode || !m.Settings.Interactivity.Enabled || !m.Features.AppHome.HomeTab {
		t.Errorf("socket mode %v, interactivity %v, home tab %v: all must be on", m.Settings.SocketMode, m.Settings.Interactivity.Enabled, m.Features.AppHome.HomeTab)
	}
	var cmds []string
	for _, c := range m.Features.SlashCommands {
		cmds = append(cmds, c.Command)
	}
	sort.Strings(cmds)
	if strings.Join(cmds, " ") != "/access /identity /offboard /onboard" {
		t.Errorf("slash commands %v", cmds)
	}

	// What the code calls, from the source itself.
	call := regexp.MustCompile(`\.([A-Z][A-Za-z]*Context)\(`)
	files, _ := filepath.Glob("*.go")
	need := map[string]bool{"commands": true} // slash commands need it without a Web API call
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, sm := range call.FindAllStringSubmatch(string(src), -1) {
			scope, known := scopeOf[sm[1]]
			if !known {
				if strings.Contains(string(src), "slack.") && isSlackMethod(sm[1]) {
					t.Errorf("%s calls %s: add its scope to scopeOf and the manifest", f, sm[1])
				}
				continue
			}
			if scope != "" {
				need[scope] = true
			}
		}
	}
	have := map[string]bool{}
	for _, s := range m.OAuth.Scopes.Bot {
		have[s] = true
		if !need[s] {
			t.Errorf("manifest requests %s but nothing uses it (least privilege)", s)
		}
	}
	for s := range need {
		if !have[s] {
			t.Errorf("the bot needs %s but the manifest does not request it", s)
		}
	}
	docs, err := os.ReadFile(filepath.Join("..", "docs", "slack.md"))
	if err != nil {
		t.Fatal(err)
	}
	for s := range have {
		if !strings.Contains(string(docs), "| `"+s+"` |") {
			t.Errorf("docs/slack.md does not justify scope %s", s)
		}
	}
	code := string(readAll(t, files))
	for _, ev := range m.Settings.Events.Bot {
		typ, ok := eventType[ev]
		if !ok || !strings.Contains(code, "*slackevents."+typ) {
			t.Errorf("manifest subscribes to %s but the bot does not handle it", ev)
		}
	}
}

// isSlackMethod reports whether name looks like a slack-go Client method the
// bot might call (they all end in Context and are not ours).
func isSlackMethod(name string) bool {
	for _, p := range []string{"Post", "Update", "Open", "Get", "Publish", "Push", "Delete", "Set", "Invite", "Kick", "Join", "Archive", "Upload", "Add", "Remove"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

func readAll(t *testing.T, files []string) []byte {
	t.Helper()
	var out []byte
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b...)
	}
	return out
}
