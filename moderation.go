package switchboard

// ModerationAction is what happens when a listed word is found.
type ModerationAction string

const (
	ActionAllow   ModerationAction = ""        // nothing found
	ActionReview  ModerationAction = "review"  // deliver, flag, send to the review hook
	ActionMask    ModerationAction = "mask"    // replace the word with '*'
	ActionHandoff ModerationAction = "handoff" // hand the conversation to a human
	ActionBlock   ModerationAction = "block"   // input: 422; output: stop the message
)

// Severity orders actions: the strongest hit decides.
func (a ModerationAction) Severity() int {
	switch a {
	case ActionReview:
		return 1
	case ActionMask:
		return 2
	case ActionHandoff:
		return 3
	case ActionBlock:
		return 4
	}
	return 0
}

// WordList is a list of words sharing one action.
type WordList struct {
	Name   string           `json:"name,omitempty"`
	Action ModerationAction `json:"action"`
	Words  []string         `json:"words"`
}

// ModerationHit is one listed word found in a text.
type ModerationHit struct {
	Word   string           `json:"word"`
	Action ModerationAction `json:"action"`
	Start  int              `json:"start"` // byte offsets in the original text
	End    int              `json:"end"`
}

// ModerationResult of checking a text.
type ModerationResult struct {
	Action ModerationAction // strongest action hit; ActionAllow when none
	Text   string           // the text with masked words replaced by '*'
	Hits   []ModerationHit
}

// Moderator checks text against the global lists and those of a scope
// (an inbox ID; "" = global only). Lists may change at any time; a
// StreamFilter keeps the lists it was created with.
type Moderator interface {
	Check(scope, text string) ModerationResult
	StreamFilter(scope string) StreamFilter
}

// StreamFilter filters a stream of model output. It holds back at most the
// longest listed word so a word split across chunks is still caught.
type StreamFilter interface {
	// Push takes the next chunk and returns the text now safe to show
	// (masked where needed). When res.Action is ActionBlock the stream must
	// stop: out is the text before the blocked word.
	Push(chunk string) (out string, res ModerationResult)
	// Flush returns what is still held back at the end of the stream.
	Flush() (out string, res ModerationResult)
}
