package chat

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	sb "github.com/switchboard-chat/switchboard"
)

// defaultCapacity is an agent's open conversations when none is set.
const defaultCapacity = 5

// Visitor asks for a person: phrases recognised in every inbox, in
// addition to the inbox's own.
var builtinHandoffPhrases = []string{"talk to a human", "speak to a human", "human agent", "real person", "转人工", "人工客服", "人工服务", "找客服"}

// PostContactMessage stores a visitor message (idempotent on clientMsgID)
// and answers it: by the bot when it owns the conversation, else it waits
// for the agent. existed reports a duplicate client_msg_id, which is
// neither stored nor answered again. EBLOCKED when moderation blocks it
// (nothing stored; an audit record is written).
func (e *Engine) PostContactMessage(ctx context.Context, convID, clientMsgID, content string) (m *sb.Message, existed bool, err error) {
	conv, err := e.store.FindConversationByID(ctx, convID)
	if err != nil {
		return nil, false, err
	}
	content = strings.TrimSpace(content)
	if content == "" {
		return nil, false, sb.Errorf(sb.EINVALID, "Message content is empty.")
	}
	inbox, err := e.Inbox(ctx, conv.InboxID)
	if err != nil {
		return nil, false, err
	}
	var flags []string
	handoff := false
	if e.opt.Moderator != nil {
		res := e.opt.Moderator.Check(inbox.ID, content)
		switch res.Action {
		case sb.ActionBlock:
			detail, _ := json.Marshal(map[string]any{"client_msg_id": clientMsgID, "hits": res.Hits})
			if err := e.store.CreateAuditRecord(ctx, &sb.AuditRecord{Kind: "blocked_input", InboxID: inbox.ID, ConversationID: conv.ID, Detail: string(detail)}); err != nil {
				e.logger.Error("audit blocked input", "err", err)
			}
			e.opt.Metrics.blocked.Inc()
			return nil, false, sb.Errorf(sb.EBLOCKED, "Your message contains words that are not allowed.")
		case sb.ActionMask:
			content = res.Text
			flags = append(flags, "moderation:mask")
		case sb.ActionReview:
			flags = append(flags, "moderation:review")
		case sb.ActionHandoff:
			flags = append(flags, "moderation:handoff")
			handoff = true
		}
		if res.Action == sb.ActionReview || res.Action == sb.ActionHandoff {
			defer func() {
				if err == nil && !existed && e.opt.OnFlag != nil {
					e.opt.OnFlag(FlagEvent{InboxID: inbox.ID, ConversationID: conv.ID, MessageID: m.ID, Direction: "input", Text: content, Hits: res.Hits})
				}
			}()
		}
	}
	if wantsHuman(content, inbox.Settings.HandoffPhrases) {
		handoff = true
	}

	h, release := e.acquire(conv.ID)
	defer release()
	msg := &sb.Message{ConversationID: conv.ID, ClientMsgID: clientMsgID, Sender: sb.SenderContact, Kind: sb.KindText, Content: content, State: sb.StateComplete, Flags: flags}
	var stored *sb.Message
	_, err = e.persist(ctx, h, func() (*sb.Event, error) {
		s, dup, err := e.store.AppendMessage(ctx, msg)
		if err != nil {
			return nil, err
		}
		stored, existed = s, dup
		if dup {
			return nil, nil
		}
		e.cacheAppend(ctx, conv, s) // under the conversation's lock: cache order is seq order
		return &sb.Event{ConversationID: conv.ID, Seq: s.Seq, Type: sb.EventMessage, MessageID: s.ID, Message: s}, nil
	})
	if err != nil || existed {
		return stored, existed, err
	}

	// The visitor writing again reopens a resolved or pending conversation.
	if conv.Status == sb.StatusResolved || conv.Status == sb.StatusPending {
		if c, err := e.transition(ctx, conv, stillStatus(sb.StatusResolved, sb.StatusPending), sb.StatusBot, sb.OwnerBot, ""); err == nil {
			conv = c
		} else if sb.ErrorCode(err) != sb.ECONFLICT {
			return stored, false, err
		}
	}
	if handoff {
		if _, err := e.Handoff(ctx, conv.ID, "visitor"); err != nil && sb.ErrorCode(err) != sb.ECONFLICT {
			e.logger.Warn("handoff", "conversation_id", conv.ID, "err", err)
		}
		return stored, false, nil
	}
	if conv.Owner == sb.OwnerBot {
		e.startJob(conv.ID)
	}
	return stored, false, nil
}

func wantsHuman(content string, phrases []string) bool {
	c := strings.ToLower(content)
	for _, p := range append(builtinHandoffPhrases, phrases...) {
		if p = strings.ToLower(strings.TrimSpace(p)); p != "" && strings.Contains(c, p) {
			return true
		}
	}
	return false
}

// PostAgentMessage stores an agent's reply or private note. A public reply
// to a conversation no human owns takes it over first.
func (e *Engine) PostAgentMessage(ctx context.Context, convID string, agent *sb.User, content string, private bool) (*sb.Message, error) {
	content = strings.TrimSpace(content)
	if content == "" {
		return nil, sb.Errorf(sb.EINVALID, "Message content is empty.")
	}
	conv, err := e.store.FindConversationByID(ctx, convID)
	if err != nil {
		return nil, err
	}
	if !private && (conv.Owner != sb.OwnerHuman || conv.AssigneeID == "") {
		if conv, err = e.Assign(ctx, convID, agent.ID, false); err != nil {
			return nil, err
		}
	}
	kind := sb.KindText
	if private {
		kind = sb.KindNote
	}
	h, release := e.acquire(conv.ID)
	defer release()
	msg := &sb.Message{ConversationID: conv.ID, Sender: sb.SenderAgent, AuthorID: agent.ID, Kind: kind, Content: content, State: sb.StateComplete}
	var stored *sb.Message
	_, err = e.persist(ctx, h, func() (*sb.Event, error) {
		s, _, err := e.store.AppendMessage(ctx, msg)
		if err != nil {
			return nil, err
		}
		stored = s
		e.cacheAppend(ctx, conv, s) // under the conversation's lock: cache order is seq order
		return &sb.Event{ConversationID: conv.ID, Seq: s.Seq, Type: sb.EventMessage, MessageID: s.ID, Message: s}, nil
	})
	return stored, err
}

// PostSystemMessage stores a system event message (not part of the context).
func (e *Engine) PostSystemMessage(ctx context.Context, convID, content string) (*sb.Message, error) {
	h, release := e.acquire(convID)
	defer release()
	msg := &sb.Message{ConversationID: convID, Sender: sb.SenderSystem, Kind: sb.KindEvent, Content: content, State: sb.StateComplete}
	var stored *sb.Message
	_, err := e.persist(ctx, h, func() (*sb.Event, error) {
		s, _, err := e.store.AppendMessage(ctx, msg)
		if err != nil {
			return nil, err
		}
		stored = s
		return &sb.Event{ConversationID: convID, Seq: s.Seq, Type: sb.EventMessage, MessageID: s.ID, Message: s}, nil
	})
	return stored, err
}

// Stop cancels the conversation's running answer, on whichever instance
// runs it; its partial text is kept as cancelled. It reports whether an
// answer was running here (or the stop was sent to the other instances).
func (e *Engine) Stop(ctx context.Context, convID string) bool {
	if e.cancelJob(ctx, convID, stopUser) {
		return true
	}
	if e.opt.Bus != nil {
		e.broadcast(ctx, sb.BusCommand{Op: "stop", ConvID: convID})
		return true
	}
	return false
}

// Typing publishes an ephemeral typing indicator (no seq, not stored).
func (e *Engine) Typing(convID, from string) {
	h, release := e.acquire(convID)
	defer release()
	o := encode(&sb.Frame{Type: sb.FrameTyping, From: from})
	h.publish(o, nil)
	e.append(h, o)
}

// transitionRetries bounds compare-and-swap retries of one transition.
const transitionRetries = 5

// transition changes status/owner/assignee with compare-and-swap and
// publishes the status frame. When the version moved on (another
// transition, or a counter update) it re-reads the conversation and asks
// allow again: allow returns an error (ECONFLICT) when the transition no
// longer makes sense — e.g. someone else took the conversation.
func (e *Engine) transition(ctx context.Context, conv *sb.Conversation, allow func(*sb.Conversation) error, st sb.Status, owner sb.Owner, assignee string) (*sb.Conversation, error) {
	h, release := e.acquire(conv.ID)
	defer release()
	var out *sb.Conversation
	var err error
	for attempt := 0; attempt < transitionRetries; attempt++ {
		if attempt > 0 {
			if conv, err = e.store.FindConversationByID(ctx, conv.ID); err != nil {
				return nil, err
			}
		}
		if allow != nil {
			if err = allow(conv); err != nil {
				return nil, err
			}
		}
		_, err = e.persist(ctx, h, func() (*sb.Event, error) {
			c, ev, err := e.store.UpdateConversation(ctx, conv.ID, conv.Version, sb.ConversationUpdate{Status: &st, Owner: &owner, AssigneeID: &assignee})
			if err != nil {
				return nil, err
			}
			out = c
			h.human = owner != sb.OwnerBot
			return ev, nil
		})
		if sb.ErrorCode(err) != sb.ECONFLICT {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	e.opt.Metrics.transitions.WithLabelValues(string(st)).Inc()
	e.broadcast(ctx, sb.BusCommand{Op: "owner", ConvID: conv.ID, Human: owner != sb.OwnerBot})
	return out, nil
}

// notAssignedToOther refuses to take a conversation someone else owns.
func notAssignedToOther(agentID string) func(*sb.Conversation) error {
	return func(c *sb.Conversation) error {
		if c.Status == sb.StatusAssigned && c.AssigneeID != agentID {
			return sb.Errorf(sb.ECONFLICT, "The conversation is already assigned to someone else.")
		}
		return nil
	}
}

// stillStatus allows a transition only while the conversation is in one of
// the given states.
func stillStatus(sts ...sb.Status) func(*sb.Conversation) error {
	return func(c *sb.Conversation) error {
		for _, s := range sts {
			if c.Status == s {
				return nil
			}
		}
		return sb.Errorf(sb.ECONFLICT, "The conversation changed (now %s).", c.Status)
	}
}

// takeover stops the bot at once: no delta is published after it returns,
// and the running answer (if any) ends as cancelled.
func (e *Engine) takeover(ctx context.Context, convID string) func(stillBot bool) {
	h, release := e.acquire(convID)
	h.seqMu.Lock()
	prev := h.human
	h.human = true
	h.seqMu.Unlock()
	if !e.cancelJob(ctx, convID, stopTakeover) && e.opt.Bus != nil {
		// The job may run on another instance: stop it there and wait
		// (bounded) until it has let go of the conversation.
		e.broadcast(ctx, sb.BusCommand{Op: "takeover", ConvID: convID})
		e.awaitLeaseRelease(ctx, convID)
	}
	return func(stillBot bool) {
		if stillBot {
			h.seqMu.Lock()
			h.human = prev
			h.seqMu.Unlock()
		}
		release()
	}
}

// awaitLeaseRelease waits until no instance holds the conversation's
// generation lease, at most 3 s.
func (e *Engine) awaitLeaseRelease(ctx context.Context, convID string) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if holder, err := e.opt.Bus.LeaseHolder(ctx, convID); err != nil || holder == "" {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Handoff moves a bot conversation to the humans: assigned to an online
// agent with free capacity, else queued; with no agent online (or outside
// business hours) it becomes pending and the visitor may leave a message.
// by is "visitor", "bot", "moderation" or an agent id.
func (e *Engine) Handoff(ctx context.Context, convID, by string) (*sb.Conversation, error) {
	conv, err := e.store.FindConversationByID(ctx, convID)
	if err != nil {
		return nil, err
	}
	if conv.Status == sb.StatusQueued || conv.Status == sb.StatusAssigned {
		return conv, nil
	}
	done := e.takeover(ctx, convID)
	if conv, err = e.store.FindConversationByID(ctx, convID); err != nil {
		done(true)
		return nil, err
	}
	inbox, err := e.Inbox(ctx, conv.InboxID)
	if err != nil {
		done(true)
		return nil, err
	}
	unlock := e.lockAssign(ctx)
	agent, online, err := e.pickAgent(ctx)
	var out *sb.Conversation
	switch {
	case err != nil:
	case !inBusinessHours(inbox.Settings.BusinessHours, time.Now()) || !online:
		out, err = e.transition(ctx, conv, stillStatus(sb.StatusBot, sb.StatusPending, sb.StatusResolved), sb.StatusPending, sb.OwnerNone, "")
	case agent != nil:
		out, err = e.transition(ctx, conv, stillStatus(sb.StatusBot, sb.StatusPending, sb.StatusResolved), sb.StatusAssigned, sb.OwnerHuman, agent.ID)
	default:
		out, err = e.transition(ctx, conv, stillStatus(sb.StatusBot, sb.StatusPending, sb.StatusResolved), sb.StatusQueued, sb.OwnerNone, "")
	}
	unlock()
	done(err != nil)
	if err == nil {
		e.logger.Info("handoff", "conversation_id", convID, "by", by, "status", out.Status)
	}
	return out, err
}

// Assign gives the conversation to an agent. With transfer false (an agent
// taking it themselves) a conversation already assigned to someone else is
// a conflict; two agents taking one conversation: exactly one wins.
func (e *Engine) Assign(ctx context.Context, convID, agentID string, transfer bool) (*sb.Conversation, error) {
	agent, err := e.store.FindUserByID(ctx, agentID)
	if err != nil {
		return nil, err
	}
	conv, err := e.store.FindConversationByID(ctx, convID)
	if err != nil {
		return nil, err
	}
	if conv.Status == sb.StatusAssigned && conv.AssigneeID == agent.ID {
		return conv, nil
	}
	var allow func(*sb.Conversation) error
	if !transfer {
		allow = notAssignedToOther(agent.ID)
		if err := allow(conv); err != nil {
			return nil, err
		}
	}
	done := e.takeover(ctx, convID)
	out, err := e.transition(ctx, conv, allow, sb.StatusAssigned, sb.OwnerHuman, agent.ID)
	stillBot := false
	if err != nil {
		if c, ferr := e.store.FindConversationByID(ctx, convID); ferr == nil {
			stillBot = c.Owner == sb.OwnerBot
		}
	}
	done(stillBot)
	return out, err
}

// Resolve closes the conversation; a new visitor message reopens it.
func (e *Engine) Resolve(ctx context.Context, convID string) (*sb.Conversation, error) {
	conv, err := e.store.FindConversationByID(ctx, convID)
	if err != nil {
		return nil, err
	}
	done := e.takeover(ctx, convID)
	out, err := e.transition(ctx, conv, nil, sb.StatusResolved, sb.OwnerNone, "")
	done(err != nil && conv.Owner == sb.OwnerBot)
	if err == nil && conv.AssigneeID != "" {
		e.AssignQueued(ctx) // the agent has room for a waiting conversation
	}
	return out, err
}

// Handback returns the conversation to the bot; its context keeps the
// agents' replies.
func (e *Engine) Handback(ctx context.Context, convID string) (*sb.Conversation, error) {
	conv, err := e.store.FindConversationByID(ctx, convID)
	if err != nil {
		return nil, err
	}
	if conv.Owner == sb.OwnerBot {
		return conv, nil
	}
	zero := 0
	if conv.KBMisses != 0 {
		if c, _, err := e.store.UpdateConversation(ctx, conv.ID, conv.Version, sb.ConversationUpdate{KBMisses: &zero}); err == nil {
			conv = c
		}
	}
	out, err := e.transition(ctx, conv, nil, sb.StatusBot, sb.OwnerBot, "")
	if err == nil && conv.AssigneeID != "" {
		e.AssignQueued(ctx)
	}
	return out, err
}

// LeaveMessage stores a visitor's offline message (email + text) as a
// message and keeps the conversation pending for the agents.
func (e *Engine) LeaveMessage(ctx context.Context, convID, email, content string) (*sb.Message, error) {
	conv, err := e.store.FindConversationByID(ctx, convID)
	if err != nil {
		return nil, err
	}
	if c, err := e.store.FindContactByID(ctx, conv.ContactID); err == nil && email != "" {
		_, _ = e.store.UpdateContact(ctx, c.ID, c.Name, email)
	}
	h, release := e.acquire(conv.ID)
	defer release()
	msg := &sb.Message{ConversationID: conv.ID, Sender: sb.SenderContact, Kind: sb.KindText, Content: content, State: sb.StateComplete, Flags: []string{"offline_message"}}
	var stored *sb.Message
	_, err = e.persist(ctx, h, func() (*sb.Event, error) {
		s, _, err := e.store.AppendMessage(ctx, msg)
		if err != nil {
			return nil, err
		}
		stored = s
		return &sb.Event{ConversationID: conv.ID, Seq: s.Seq, Type: sb.EventMessage, MessageID: s.ID, Message: s}, nil
	})
	if err != nil {
		return nil, err
	}
	if conv.Status != sb.StatusPending {
		done := e.takeover(ctx, conv.ID)
		_, err = e.transition(ctx, conv, nil, sb.StatusPending, sb.OwnerNone, "")
		done(err != nil)
	}
	return stored, err
}

// AssignQueued gives conversations waiting in the queue, oldest first, to
// online agents with free capacity (least loaded, round robin on ties).
// It runs when capacity frees up or an agent comes online.
func (e *Engine) AssignQueued(ctx context.Context) {
	defer e.lockAssign(ctx)()
	qs, err := e.store.FindConversations(ctx, sb.ConversationFilter{Status: []sb.Status{sb.StatusQueued}, Limit: 200})
	if err != nil {
		e.logger.Warn("queue", "err", err)
		return
	}
	for i := len(qs) - 1; i >= 0; i-- { // the list is newest first
		agent, _, err := e.pickAgent(ctx)
		if err != nil || agent == nil {
			return
		}
		done := e.takeover(ctx, qs[i].ID)
		_, err = e.transition(ctx, qs[i], stillStatus(sb.StatusQueued), sb.StatusAssigned, sb.OwnerHuman, agent.ID)
		done(false) // a queued conversation is not the bot's either way
		if err == nil {
			e.logger.Info("assigned from the queue", "conversation_id", qs[i].ID, "agent_id", agent.ID)
		}
	}
}

// assignLease names the cluster-wide lock of assignment decisions.
const assignLease = "assignment"

// lockAssign serialises assignment decisions (who has free capacity): in
// this process with assignMu and, in scale-out, across instances with a
// short lease in Redis (best effort: if Redis is down, per instance).
func (e *Engine) lockAssign(ctx context.Context) (unlock func()) {
	e.assignMu.Lock()
	if e.opt.Bus == nil {
		return e.assignMu.Unlock
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	held := false
	for ctx.Err() == nil {
		ok, err := e.opt.Bus.AcquireLease(ctx, assignLease, e.busID(), 5*time.Second)
		if err != nil {
			break
		}
		if ok {
			held = true
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Millisecond):
		}
	}
	return func() {
		if held {
			rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = e.opt.Bus.ReleaseLease(rctx, assignLease, e.busID())
			cancel()
		}
		e.assignMu.Unlock()
	}
}

// pickAgent returns the least-loaded online agent with free capacity
// (round robin on ties), and whether any agent is online at all.
// Caller holds lockAssign.
func (e *Engine) pickAgent(ctx context.Context) (*sb.User, bool, error) {
	users, err := e.store.FindUsers(ctx, sb.UserFilter{Presence: sb.PresenceOnline})
	if err != nil {
		return nil, false, err
	}
	var best []*sb.User
	bestLoad := -1
	for _, u := range users {
		open, err := e.store.FindConversations(ctx, sb.ConversationFilter{AssigneeID: u.ID, Status: []sb.Status{sb.StatusAssigned}, Limit: 1000})
		if err != nil {
			return nil, false, err
		}
		capacity := u.Capacity
		if capacity <= 0 {
			capacity = defaultCapacity
		}
		if len(open) >= capacity {
			continue
		}
		switch {
		case bestLoad < 0 || len(open) < bestLoad:
			best, bestLoad = []*sb.User{u}, len(open)
		case len(open) == bestLoad:
			best = append(best, u)
		}
	}
	if len(best) == 0 {
		return nil, len(users) > 0, nil
	}
	e.rr++
	return best[e.rr%len(best)], true, nil
}

// queuePosition returns the 1-based position of a queued conversation and
// an estimated wait.
func (e *Engine) queuePosition(ctx context.Context, convID string) (int, int) {
	qs, err := e.store.FindConversations(ctx, sb.ConversationFilter{Status: []sb.Status{sb.StatusQueued}, Limit: 1000})
	if err != nil {
		return 0, 0
	}
	// FindConversations lists newest activity first; the queue is oldest first.
	for i := len(qs) - 1; i >= 0; i-- {
		if qs[i].ID == convID {
			pos := len(qs) - i
			return pos, pos * 120
		}
	}
	return 0, 0
}

// inBusinessHours reports whether t is within the schedule (nil = always).
func inBusinessHours(h *sb.Hours, t time.Time) bool {
	if h == nil || len(h.Days) == 0 {
		return true
	}
	loc, err := time.LoadLocation(h.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	t = t.In(loc)
	for _, d := range h.Holidays {
		if d == t.Format("2006-01-02") {
			return false
		}
	}
	day := false
	for _, d := range h.Days {
		day = day || int(t.Weekday()) == d
	}
	if !day {
		return false
	}
	now := t.Format("15:04")
	return now >= h.Open && now < h.Close
}
