// goclient: a transcript of go-zookeeper (Debian golang-github-samuel-go-zookeeper-dev, the
// 2018 snapshot, which sends a ConnectRequest without the readOnly byte) against one server,
// for test_diff_go.sh.
//
//	goclient HOST:PORT
//
// One line per call: session, call, "->", the result or the error text. Stats carry the tags
// normalise.py maps (@z zxid, @s session id, @t time). go-zookeeper hands a watch event to its
// channel while reading the frames in order, so every event the server sent before a reply is
// already in its channel when the call returns: after each call the outstanding watch
// channels are polled and what they hold is printed before the call's line. Events for the
// other session are collected by a round trip on that session (settle).
package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/samuel/go-zookeeper/zk"
)

type quiet struct{}

func (quiet) Printf(string, ...interface{}) {}

type watch struct {
	what string
	ch   <-chan zk.Event
}

type session struct {
	name    string
	c       *zk.Conn
	watches []watch
}

func fstat(s *zk.Stat) string {
	if s == nil {
		return "nil"
	}
	return fmt.Sprintf("v=%d cv=%d av=%d nc=%d dl=%d eo=@s:%x cz=@z:%x mz=@z:%x pz=@z:%x ct=@t:%d mt=@t:%d",
		s.Version, s.Cversion, s.Aversion, s.NumChildren, s.DataLength, uint64(s.EphemeralOwner),
		uint64(s.Czxid), uint64(s.Mzxid), uint64(s.Pzxid), s.Ctime, s.Mtime)
}

func ferr(err error) string {
	if err == nil {
		return "ok"
	}
	return "error: " + err.Error()
}

// Children are unordered; normalise.py sorts the braces.
func fchildren(ch []string) string {
	return "{" + strings.Join(ch, ",") + "}"
}

// ACL lists are unordered; normalise.py sorts the braces.
func facl(acl []zk.ACL) string {
	parts := make([]string, len(acl))
	for i, a := range acl {
		parts[i] = fmt.Sprintf("%d:%s:%s", a.Perms, a.Scheme, a.ID)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func fdata(d []byte) string {
	return fmt.Sprintf("%q", d)
}

func evname(t zk.EventType) string {
	switch t {
	case zk.EventNodeCreated:
		return "NodeCreated"
	case zk.EventNodeDeleted:
		return "NodeDeleted"
	case zk.EventNodeDataChanged:
		return "NodeDataChanged"
	case zk.EventNodeChildrenChanged:
		return "NodeChildrenChanged"
	case zk.EventNotWatching:
		return "NotWatching"
	}
	return fmt.Sprintf("type%d", int(t))
}

// poll prints the events already delivered to this session's watch channels, in the order the
// watches were set (each one-shot channel carries at most one event).
func (s *session) poll() {
	keep := s.watches[:0]
	var lines []string
	for _, w := range s.watches {
		select {
		case ev := <-w.ch:
			lines = append(lines, fmt.Sprintf("EVENT %s %s %s (%s watch)", s.name, evname(ev.Type), ev.Path, w.what))
		default:
			keep = append(keep, w)
		}
	}
	s.watches = keep
	for _, l := range lines {
		fmt.Println(l)
	}
}

func (s *session) say(format string, args ...interface{}) {
	s.poll()
	fmt.Printf("%s %s\n", s.name, fmt.Sprintf(format, args...))
}

func (s *session) settle() {
	s.c.Sync("/")
	s.poll()
}

func connect(name, host string) *session {
	c, events, err := zk.Connect([]string{host}, 10*time.Second, zk.WithLogger(quiet{}))
	if err != nil {
		fmt.Printf("%s connect -> %s\n", name, ferr(err))
		os.Exit(1)
	}
	deadline := time.After(15 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				fmt.Printf("%s connected session=@s:%x\n", name, uint64(c.SessionID()))
				go func() {
					for range events {
					}
				}()
				return &session{name: name, c: c}
			}
		case <-deadline:
			fmt.Printf("%s connect -> no session within 15 s\n", name)
			os.Exit(1)
		}
	}
}

func (s *session) create(path string, data []byte, flags int32, acl []zk.ACL) {
	p, err := s.c.Create(path, data, flags, acl)
	if err != nil {
		s.say("Create(%s, %s, flags=%d) -> %s", path, fdata(data), flags, ferr(err))
	} else {
		s.say("Create(%s, %s, flags=%d) -> %s", path, fdata(data), flags, p)
	}
}

func (s *session) get(path string) {
	d, st, err := s.c.Get(path)
	if err != nil {
		s.say("Get(%s) -> %s", path, ferr(err))
	} else {
		s.say("Get(%s) -> %s %s", path, fdata(d), fstat(st))
	}
}

func (s *session) getW(path string) {
	d, st, ch, err := s.c.GetW(path)
	if err != nil {
		s.say("GetW(%s) -> %s", path, ferr(err))
		return
	}
	s.say("GetW(%s) -> %s %s", path, fdata(d), fstat(st))
	s.watches = append(s.watches, watch{"data " + path, ch})
}

func (s *session) set(path string, data []byte, version int32) {
	st, err := s.c.Set(path, data, version)
	if err != nil {
		s.say("Set(%s, %s, v=%d) -> %s", path, fdata(data), version, ferr(err))
	} else {
		s.say("Set(%s, %s, v=%d) -> %s", path, fdata(data), version, fstat(st))
	}
}

func (s *session) exists(path string) {
	ok, st, err := s.c.Exists(path)
	if err != nil {
		s.say("Exists(%s) -> %s", path, ferr(err))
	} else if !ok {
		s.say("Exists(%s) -> false", path)
	} else {
		s.say("Exists(%s) -> true %s", path, fstat(st))
	}
}

func (s *session) existsW(path string) {
	ok, st, ch, err := s.c.ExistsW(path)
	if err != nil {
		s.say("ExistsW(%s) -> %s", path, ferr(err))
		return
	}
	if ok {
		s.say("ExistsW(%s) -> true %s", path, fstat(st))
	} else {
		s.say("ExistsW(%s) -> false", path)
	}
	s.watches = append(s.watches, watch{"exists " + path, ch})
}

func (s *session) children(path string) {
	ch, st, err := s.c.Children(path)
	if err != nil {
		s.say("Children(%s) -> %s", path, ferr(err))
	} else {
		s.say("Children(%s) -> %s %s", path, fchildren(ch), fstat(st))
	}
}

func (s *session) childrenW(path string) {
	ch, st, wch, err := s.c.ChildrenW(path)
	if err != nil {
		s.say("ChildrenW(%s) -> %s", path, ferr(err))
		return
	}
	s.say("ChildrenW(%s) -> %s %s", path, fchildren(ch), fstat(st))
	s.watches = append(s.watches, watch{"child " + path, wch})
}

func (s *session) delete(path string, version int32) {
	s.say("Delete(%s, v=%d) -> %s", path, version, ferr(s.c.Delete(path, version)))
}

func (s *session) getACL(path string) {
	acl, st, err := s.c.GetACL(path)
	if err != nil {
		s.say("GetACL(%s) -> %s", path, ferr(err))
	} else {
		s.say("GetACL(%s) -> %s %s", path, facl(acl), fstat(st))
	}
}

func (s *session) setACL(path string, acl []zk.ACL, version int32) {
	st, err := s.c.SetACL(path, acl, version)
	if err != nil {
		s.say("SetACL(%s, %s, v=%d) -> %s", path, facl(acl), version, ferr(err))
	} else {
		s.say("SetACL(%s, %s, v=%d) -> %s", path, facl(acl), version, fstat(st))
	}
}

func (s *session) multi(label string, ops ...interface{}) {
	res, err := s.c.Multi(ops...)
	parts := make([]string, len(res))
	for i, r := range res {
		switch {
		case r.Error != nil:
			parts[i] = ferr(r.Error)
		case r.String != "":
			parts[i] = r.String
		case r.Stat != nil:
			parts[i] = fstat(r.Stat)
		default:
			parts[i] = "ok"
		}
	}
	s.say("Multi(%s) -> %s [%s]", label, ferr(err), strings.Join(parts, ", "))
}

func section(title string) {
	fmt.Println("## " + title)
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: goclient HOST:PORT")
		os.Exit(2)
	}
	host := os.Args[1]
	open := zk.WorldACL(zk.PermAll)
	g1 := connect("g1", host)
	g2 := connect("g2", host)

	section("initial tree")
	g1.get("/")
	g1.children("/")
	g1.children("/zookeeper")
	g1.exists("/")
	g1.exists("/nope")
	g1.getACL("/zookeeper/config")

	section("create get set")
	g1.create("/g", []byte("hello"), 0, open)
	g1.create("/g", []byte("again"), 0, open)
	g1.create("/g/empty", []byte{}, 0, open)
	g1.get("/g/empty")
	g1.create("/g/s-", []byte("1"), zk.FlagSequence, open)
	g1.create("/g/s-", []byte("2"), zk.FlagSequence, open)
	g1.create("/g/e", []byte("eph"), zk.FlagEphemeral, open)
	g1.create("/g/es-", nil, zk.FlagEphemeral|zk.FlagSequence, open)
	g1.create("/g/e/x", nil, 0, open)
	g1.create("/nope/x", nil, 0, open)
	g1.create("/g/bad", nil, 9, open)
	g1.create("/g/noacl", nil, 0, []zk.ACL{})
	g1.get("/g")
	g1.get("/g/e")
	g1.get("/nope")
	g1.set("/g", []byte("v1"), 0)
	g1.set("/g", []byte("v2"), 0)
	g1.set("/g", []byte("v2"), -1)
	g1.set("/nope", []byte("x"), -1)
	g1.exists("/g")
	g1.children("/g")
	g1.children("/nope")
	g1.say("Sync(/g) -> %s", func() string {
		p, err := g1.c.Sync("/g")
		if err != nil {
			return ferr(err)
		}
		return p
	}())

	section("delete")
	g1.delete("/g", -1)
	g1.delete("/g/empty", 3)
	g1.delete("/g/empty", 0)
	g1.delete("/g/empty", -1)
	g1.delete("/", -1)
	g1.get("/")

	section("acl and auth")
	g1.create("/gacl", []byte("s"), 0, zk.DigestACL(zk.PermAll, "user1", "pass1"))
	g1.getACL("/gacl")
	g1.get("/gacl")
	g2.say("AddAuth(digest, user1:pass1) -> %s", ferr(g2.c.AddAuth("digest", []byte("user1:pass1"))))
	g2.getACL("/gacl")
	g2.get("/gacl")
	g2.set("/gacl", []byte("t"), -1)
	g2.setACL("/gacl", zk.WorldACL(zk.PermRead), 5)
	g2.setACL("/gacl", zk.WorldACL(zk.PermRead), 0)
	g1.get("/gacl")
	g1.set("/gacl", []byte("u"), -1)
	g2.create("/gauth", nil, 0, zk.AuthACL(zk.PermAll))
	g2.getACL("/gauth")
	g1.create("/gauth2", nil, 0, zk.AuthACL(zk.PermAll))

	section("watches")
	g1.create("/w", []byte("0"), 0, open)
	g1.existsW("/w/new")
	g1.getW("/w")
	g1.childrenW("/w")
	g1.create("/w/new", nil, 0, open)
	g1.set("/w", []byte("1"), -1)
	g1.set("/w", []byte("2"), -1)
	g2.existsW("/w/new")
	g2.getW("/w")
	g2.childrenW("/w")
	g1.set("/w/new", []byte("x"), -1)
	g2.settle()
	g1.delete("/w/new", -1)
	g2.settle()
	g1.set("/w", []byte("3"), -1)
	g2.settle()
	g2.existsW("/w/eph")
	g1.create("/w/eph", nil, zk.FlagEphemeral, open)
	g2.settle()
	g2.existsW("/w/eph")

	section("multi")
	g1.create("/m", nil, 0, open)
	g1.create("/m/del", nil, 0, open)
	g1.multi("create, create seq, set, check, delete",
		&zk.CreateRequest{Path: "/m/a", Data: []byte("x"), Acl: open},
		&zk.CreateRequest{Path: "/m/s-", Data: nil, Acl: open, Flags: zk.FlagSequence},
		&zk.SetDataRequest{Path: "/m", Data: []byte("multi"), Version: 0},
		&zk.CheckVersionRequest{Path: "/m", Version: 1},
		&zk.DeleteRequest{Path: "/m/del", Version: -1})
	g1.children("/m")
	g1.multi("create, delete missing, set",
		&zk.CreateRequest{Path: "/m/b", Acl: open},
		&zk.DeleteRequest{Path: "/m/missing", Version: -1},
		&zk.SetDataRequest{Path: "/m", Data: []byte("no"), Version: -1})
	g1.exists("/m/b")
	g1.multi("check bad version",
		&zk.CheckVersionRequest{Path: "/m", Version: 9},
		&zk.CreateRequest{Path: "/m/c", Acl: open})
	g1.get("/m")

	section("ephemerals vanish on close")
	g2.existsW("/w/eph")
	g1.c.Close()
	fmt.Println("g1 closed")
	g2.settle()
	g2.exists("/w/eph")
	g2.children("/g")
	g2.c.Close()
	fmt.Println("g2 closed")
}
