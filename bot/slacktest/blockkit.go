package slacktest

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Block Kit limits, as Slack documents them. Sources (checked 2026-11):
//   - blocks per surface, message text: https://docs.slack.dev/reference/block-kit/blocks
//     ("up to 50 blocks in each message, and 100 blocks in modals or Home tabs")
//     and https://docs.slack.dev/reference/methods/chat.postMessage (text truncated
//     past 40,000 characters; error msg_too_long).
//   - section: https://docs.slack.dev/reference/block-kit/blocks/section-block
//     (text 1..3000, fields ≤ 10 each ≤ 2000, block_id ≤ 255).
//   - button: https://docs.slack.dev/reference/block-kit/block-elements/button-element
//     (text ≤ 75, action_id ≤ 255, value ≤ 2000, url ≤ 3000; action_id "unique
//     among all other action_ids in the containing block").
//   - header ≤ 150, actions ≤ 25 elements, context ≤ 10 elements, input label and
//     hint ≤ 2000, plain_text_input min/max_length ≤ 3000, static_select options
//     and option_groups ≤ 100, option text ≤ 75 and value ≤ 150, overflow ≤ 5,
//     checkboxes/radio ≤ 10, confirm title ≤ 100 / text ≤ 300 / buttons ≤ 30,
//     modal title/submit/close ≤ 24, private_metadata ≤ 3000, callback_id and
//     external_id ≤ 255: Slack's reference pages for each block/element, and the
//     same numbers in /work/shared/third_party/slack-block-kit-schema (MIT).
//   - markdown block text ≤ 12,000 (docs.slack.dev markdown-block page; also
//     reported in slackapi/bolt-js#2509).
//
// The error texts copy what Slack puts into response_metadata.messages, e.g.
// "[ERROR] no more than 25 items allowed [json-pointer:/blocks/1/elements]"
// (seen in adobe/spacecat-api-service#176) and "[ERROR] no more than 100 items
// allowed [json-pointer:/view/blocks]" (grafana/oncall#210).
const (
	MaxMessageBlocks       = 50
	MaxViewBlocks          = 100
	MaxMessageText         = 40000
	MaxTextObject          = 3000
	MaxSectionFields       = 10
	MaxSectionFieldText    = 2000
	MaxHeaderText          = 150
	MaxButtonText          = 75
	MaxButtonValue         = 2000
	MaxURL                 = 3000
	MaxID                  = 255 // action_id, block_id, callback_id, external_id
	MaxActionsElements     = 25
	MaxContextElements     = 10
	MaxInputLabel          = 2000
	MaxPlainTextInputLen   = 3000
	MaxSelectOptions       = 100
	MaxOptionText          = 75
	MaxOptionValue         = 150
	MaxOverflowOptions     = 5
	MaxCheckboxOptions     = 10
	MaxPlaceholder         = 150
	MaxModalTitle          = 24
	MaxModalButton         = 24
	MaxPrivateMetadata     = 3000
	MaxConfirmTitle        = 100
	MaxConfirmText         = 300
	MaxConfirmButton       = 30
	MaxMarkdownBlockText   = 12000
	MaxImageAltText        = 2000
	MaxAckPayloadBytes     = 20 * 1024 // Socket Mode drops acks this big (slack-go socketmode)
	maxValidationErrorsOut = 20
)

// LimitError is one Block Kit violation. Pointer is a JSON pointer into the
// request as Slack reports it ("/blocks/0/text/text", "/view/title/text").
type LimitError struct {
	Pointer string
	Msg     string
}

func (e *LimitError) Error() string { return e.Msg + " [json-pointer:" + e.Pointer + "]" }

// slackMessage renders the error the way Slack writes it into
// response_metadata.messages.
func (e *LimitError) slackMessage() string { return "[ERROR] " + e.Error() }

// ValidateMessageBlocks checks a message's blocks array (as sent in the
// `blocks` argument of chat.postMessage / chat.update / response_url) against
// Slack's limits. Pointers start at "/blocks". An empty or null input is valid
// (a message may have only text).
func ValidateMessageBlocks(blocks json.RawMessage) []error {
	v := newValidator()
	if isEmptyJSON(blocks) {
		return nil
	}
	var arr any
	if err := json.Unmarshal(blocks, &arr); err != nil {
		return []error{&LimitError{"/blocks", "must be a valid JSON array: " + err.Error()}}
	}
	v.blocks(arr, "/blocks", MaxMessageBlocks, "message")
	return v.errs
}

// ValidateMessage checks a whole message payload ({"text":..., "blocks":
// [...]}, as posted to chat.postMessage with JSON or to a response_url):
// the text length and the blocks.
func ValidateMessage(msg json.RawMessage) []error {
	var m struct {
		Text   string          `json:"text"`
		Blocks json.RawMessage `json:"blocks"`
	}
	if err := json.Unmarshal(msg, &m); err != nil {
		return []error{&LimitError{"", "must be a valid JSON object: " + err.Error()}}
	}
	var errs []error
	if n := chars(m.Text); n > MaxMessageText {
		errs = append(errs, &LimitError{"/text", fmt.Sprintf("must be less than %d characters (msg_too_long)", MaxMessageText+1)})
	}
	if m.Text == "" && isEmptyJSON(m.Blocks) {
		errs = append(errs, &LimitError{"/text", "message has neither text nor blocks (no_text)"})
	}
	return append(errs, ValidateMessageBlocks(m.Blocks)...)
}

// ValidateView checks a view (modal or home) as sent in views.open,
// views.update, views.push or views.publish. Pointers start at "/view".
func ValidateView(view json.RawMessage) []error {
	v := newValidator()
	var obj any
	if err := json.Unmarshal(view, &obj); err != nil {
		return []error{&LimitError{"/view", "must be a valid JSON object: " + err.Error()}}
	}
	m, ok := obj.(map[string]any)
	if !ok {
		return []error{&LimitError{"/view", "must be an object"}}
	}
	p := "/view"
	typ, _ := m["type"].(string)
	switch typ {
	case "modal":
		if m["title"] == nil {
			v.add(p+"/title", "missing required field: title")
		} else {
			v.textObj(m["title"], p+"/title", MaxModalTitle, true)
		}
		if m["submit"] != nil {
			v.textObj(m["submit"], p+"/submit", MaxModalButton, true)
		}
		if m["close"] != nil {
			v.textObj(m["close"], p+"/close", MaxModalButton, true)
		}
	case "home":
	default:
		v.add(p+"/type", fmt.Sprintf("must be one of modal, home (got %q)", typ))
	}
	v.maxLen(m["private_metadata"], p+"/private_metadata", MaxPrivateMetadata)
	v.maxLen(m["callback_id"], p+"/callback_id", MaxID)
	v.maxLen(m["external_id"], p+"/external_id", MaxID)
	if m["blocks"] == nil {
		v.add(p+"/blocks", "missing required field: blocks")
	} else {
		v.blocks(m["blocks"], p+"/blocks", MaxViewBlocks, typ)
	}
	// Slack rejects a modal with input blocks but no submit button.
	if typ == "modal" && m["submit"] == nil {
		if arr, ok := m["blocks"].([]any); ok {
			for _, b := range arr {
				if bm, ok := b.(map[string]any); ok && bm["type"] == "input" {
					v.add(p+"/submit", "must provide submit when view contains input blocks")
					break
				}
			}
		}
	}
	return v.errs
}

type validator struct {
	errs     []error
	blockIDs map[string]string // block_id -> pointer of first use
}

func newValidator() *validator { return &validator{blockIDs: map[string]string{}} }

func (v *validator) add(ptr, msg string) { v.errs = append(v.errs, &LimitError{ptr, msg}) }

func isEmptyJSON(b json.RawMessage) bool {
	s := strings.TrimSpace(string(b))
	return s == "" || s == "null" || s == "[]"
}

// chars counts characters the way Slack does (code points, not bytes).
func chars(s string) int { return utf8.RuneCountInString(s) }

func (v *validator) maxLen(x any, ptr string, limit int) {
	if x == nil {
		return
	}
	s, ok := x.(string)
	if !ok {
		v.add(ptr, "must be a string")
		return
	}
	if chars(s) > limit {
		v.add(ptr, fmt.Sprintf("must be less than %d characters", limit+1))
	}
}

func (v *validator) minMaxLen(x any, ptr string, limit int) {
	if s, ok := x.(string); ok && s == "" {
		v.add(ptr, "must be more than 0 characters")
		return
	}
	v.maxLen(x, ptr, limit)
}

func (v *validator) maxItems(x any, ptr string, limit int) []any {
	if x == nil {
		return nil
	}
	arr, ok := x.([]any)
	if !ok {
		v.add(ptr, "must be an array")
		return nil
	}
	if len(arr) == 0 {
		v.add(ptr, "must provide at least 1 items")
	}
	if len(arr) > limit {
		v.add(ptr, fmt.Sprintf("no more than %d items allowed", limit))
	}
	return arr
}

// textObj checks a text composition object. plainOnly rejects mrkdwn where
// Slack requires plain_text (headers, buttons, labels, titles).
func (v *validator) textObj(x any, ptr string, limit int, plainOnly bool) {
	m, ok := x.(map[string]any)
	if !ok {
		v.add(ptr, "must be a text object")
		return
	}
	switch t, _ := m["type"].(string); t {
	case "plain_text":
	case "mrkdwn":
		if plainOnly {
			v.add(ptr+"/type", "must be plain_text")
		}
	default:
		v.add(ptr+"/type", "must be one of plain_text, mrkdwn")
	}
	if m["text"] == nil {
		v.add(ptr+"/text", "missing required field: text")
		return
	}
	v.minMaxLen(m["text"], ptr+"/text", limit)
}

var knownBlockTypes = map[string]bool{
	"actions": true, "context": true, "divider": true, "file": true, "header": true,
	"image": true, "input": true, "rich_text": true, "section": true, "video": true,
	"markdown": true, "table": true, "context_actions": true, "alert": true, "card": true,
	"carousel": true, "container": true, "data_table": true, "data_visualization": true,
	"plan": true, "task_card": true,
}

func (v *validator) blocks(x any, ptr string, limit int, surface string) {
	arr, ok := x.([]any)
	if !ok {
		v.add(ptr, "must be an array")
		return
	}
	if len(arr) > limit {
		v.add(ptr, fmt.Sprintf("no more than %d items allowed", limit))
	}
	for i, b := range arr {
		v.block(b, fmt.Sprintf("%s/%d", ptr, i), surface)
	}
}

func (v *validator) block(x any, ptr, surface string) {
	m, ok := x.(map[string]any)
	if !ok {
		v.add(ptr, "must be an object")
		return
	}
	typ, _ := m["type"].(string)
	if !knownBlockTypes[typ] {
		v.add(ptr+"/type", fmt.Sprintf("unsupported type: %q", typ))
		return
	}
	if id, present := m["block_id"]; present {
		v.maxLen(id, ptr+"/block_id", MaxID)
		if s, ok := id.(string); ok && s != "" {
			if first, dup := v.blockIDs[s]; dup {
				v.add(ptr+"/block_id", fmt.Sprintf("duplicate block_id %q (first used at %s)", s, first))
			} else {
				v.blockIDs[s] = ptr
			}
		}
	}
	actionIDs := map[string]bool{}
	elem := func(e any, eptr string) { v.element(e, eptr, actionIDs) }
	switch typ {
	case "section":
		if m["text"] == nil && m["fields"] == nil {
			v.add(ptr, "must provide text or fields")
		}
		if m["text"] != nil {
			v.textObj(m["text"], ptr+"/text", MaxTextObject, false)
		}
		for i, f := range v.maxItems(m["fields"], ptr+"/fields", MaxSectionFields) {
			v.textObj(f, fmt.Sprintf("%s/fields/%d", ptr, i), MaxSectionFieldText, false)
		}
		if m["accessory"] != nil {
			elem(m["accessory"], ptr+"/accessory")
		}
	case "header":
		v.textObj(m["text"], ptr+"/text", MaxHeaderText, true)
	case "actions":
		if m["elements"] == nil {
			v.add(ptr+"/elements", "missing required field: elements")
		}
		for i, e := range v.maxItems(m["elements"], ptr+"/elements", MaxActionsElements) {
			elem(e, fmt.Sprintf("%s/elements/%d", ptr, i))
		}
	case "context":
		if m["elements"] == nil {
			v.add(ptr+"/elements", "missing required field: elements")
		}
		for i, e := range v.maxItems(m["elements"], ptr+"/elements", MaxContextElements) {
			eptr := fmt.Sprintf("%s/elements/%d", ptr, i)
			if em, ok := e.(map[string]any); ok && (em["type"] == "plain_text" || em["type"] == "mrkdwn") {
				v.textObj(e, eptr, MaxTextObject, false)
			} else {
				elem(e, eptr)
			}
		}
	case "input":
		if surface == "message" {
			// Slack accepts input blocks only in modals and Home tabs
			// (python-slack-sdk#1257: chat.postMessage → invalid_blocks).
			v.add(ptr+"/type", "input blocks are not supported in messages")
		}
		v.textObj(m["label"], ptr+"/label", MaxInputLabel, true)
		if m["hint"] != nil {
			v.textObj(m["hint"], ptr+"/hint", MaxInputLabel, true)
		}
		if m["element"] == nil {
			v.add(ptr+"/element", "missing required field: element")
		} else {
			elem(m["element"], ptr+"/element")
		}
	case "image":
		v.minMaxLen(m["alt_text"], ptr+"/alt_text", MaxImageAltText)
		v.maxLen(m["image_url"], ptr+"/image_url", MaxURL)
		if m["title"] != nil {
			v.textObj(m["title"], ptr+"/title", MaxImageAltText, true)
		}
	case "markdown":
		v.minMaxLen(m["text"], ptr+"/text", MaxMarkdownBlockText)
	}
}

func (v *validator) element(x any, ptr string, actionIDs map[string]bool) {
	m, ok := x.(map[string]any)
	if !ok {
		v.add(ptr, "must be an object")
		return
	}
	if id, present := m["action_id"]; present {
		v.maxLen(id, ptr+"/action_id", MaxID)
		if s, ok := id.(string); ok && s != "" {
			// Slack requires action_ids to be unique within their block; the
			// same action_id in different blocks (one "approve" per request
			// row) is valid.
			if actionIDs[s] {
				v.add(ptr+"/action_id", fmt.Sprintf("duplicate action_id %q in block", s))
			}
			actionIDs[s] = true
		}
	}
	if m["placeholder"] != nil {
		v.textObj(m["placeholder"], ptr+"/placeholder", MaxPlaceholder, true)
	}
	if m["confirm"] != nil {
		v.confirm(m["confirm"], ptr+"/confirm")
	}
	typ, _ := m["type"].(string)
	switch typ {
	case "button":
		v.textObj(m["text"], ptr+"/text", MaxButtonText, true)
		if m["value"] != nil {
			v.minMaxLen(m["value"], ptr+"/value", MaxButtonValue)
		}
		v.maxLen(m["url"], ptr+"/url", MaxURL)
		if s, ok := m["style"].(string); ok && s != "primary" && s != "danger" {
			v.add(ptr+"/style", "must be one of primary, danger")
		}
	case "static_select", "multi_static_select":
		if m["options"] == nil && m["option_groups"] == nil {
			v.add(ptr, "must provide options or option_groups")
		}
		v.options(m["options"], ptr+"/options", MaxSelectOptions)
		for i, g := range v.maxItems(m["option_groups"], ptr+"/option_groups", MaxSelectOptions) {
			gptr := fmt.Sprintf("%s/option_groups/%d", ptr, i)
			if gm, ok := g.(map[string]any); ok {
				v.textObj(gm["label"], gptr+"/label", MaxOptionText, true)
				v.options(gm["options"], gptr+"/options", MaxSelectOptions)
			}
		}
	case "overflow":
		v.options(m["options"], ptr+"/options", MaxOverflowOptions)
	case "checkboxes", "radio_buttons":
		v.options(m["options"], ptr+"/options", MaxCheckboxOptions)
	case "plain_text_input":
		for _, k := range []string{"max_length", "min_length"} {
			if n, ok := m[k].(float64); ok && n > MaxPlainTextInputLen {
				v.add(ptr+"/"+k, fmt.Sprintf("must be less than %d", MaxPlainTextInputLen+1))
			}
		}
		v.maxLen(m["initial_value"], ptr+"/initial_value", MaxPlainTextInputLen)
	case "image":
		v.minMaxLen(m["alt_text"], ptr+"/alt_text", MaxImageAltText)
		v.maxLen(m["image_url"], ptr+"/image_url", MaxURL)
	case "":
		v.add(ptr+"/type", "missing required field: type")
	}
}

func (v *validator) options(x any, ptr string, limit int) {
	for i, o := range v.maxItems(x, ptr, limit) {
		optr := fmt.Sprintf("%s/%d", ptr, i)
		om, ok := o.(map[string]any)
		if !ok {
			v.add(optr, "must be an option object")
			continue
		}
		v.textObj(om["text"], optr+"/text", MaxOptionText, false)
		v.minMaxLen(om["value"], optr+"/value", MaxOptionValue)
		if om["description"] != nil {
			v.textObj(om["description"], optr+"/description", MaxOptionText, false)
		}
	}
}

func (v *validator) confirm(x any, ptr string) {
	m, ok := x.(map[string]any)
	if !ok {
		v.add(ptr, "must be a confirm object")
		return
	}
	v.textObj(m["title"], ptr+"/title", MaxConfirmTitle, true)
	v.textObj(m["text"], ptr+"/text", MaxConfirmText, false)
	v.textObj(m["confirm"], ptr+"/confirm", MaxConfirmButton, true)
	v.textObj(m["deny"], ptr+"/deny", MaxConfirmButton, true)
}

// slackMessages renders validation errors the way Slack lists them in
// response_metadata.messages (capped, like Slack, to keep responses small).
func slackMessages(errs []error) []string {
	out := make([]string, 0, len(errs))
	for i, e := range errs {
		if i == maxValidationErrorsOut {
			break
		}
		if le, ok := e.(*LimitError); ok {
			out = append(out, le.slackMessage())
		} else {
			out = append(out, "[ERROR] "+e.Error())
		}
	}
	return out
}
