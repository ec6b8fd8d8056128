package clocktest

import (
	"testing"
	"time"
)

func TestTimersFireInOrderWhenAdvanced(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := New(start)
	late, early := c.NewTimer(2*time.Second), c.NewTimer(time.Second)
	stopped := c.NewTimer(time.Second)
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop should report active once")
	}
	if !c.BlockUntil(2, time.Second) || c.Timers() != 2 {
		t.Fatalf("%d timers pending, want 2", c.Timers())
	}
	if at, ok := c.NextDeadline(); !ok || !at.Equal(start.Add(time.Second)) {
		t.Fatalf("next deadline %v %v", at, ok)
	}
	c.Advance(time.Second)
	select {
	case got := <-early.C():
		if !got.Equal(start.Add(time.Second)) {
			t.Errorf("fired at %v", got)
		}
	default:
		t.Fatal("due timer did not fire")
	}
	select {
	case <-late.C():
		t.Fatal("timer fired early")
	case <-stopped.C():
		t.Fatal("stopped timer fired")
	default:
	}
	c.Advance(time.Second)
	<-late.C()
	if now := c.Now(); !now.Equal(start.Add(2 * time.Second)) {
		t.Errorf("now %v", now)
	}
	if z := c.NewTimer(0); len(z.C()) != 1 {
		t.Error("a zero timer fires at once")
	}
}
