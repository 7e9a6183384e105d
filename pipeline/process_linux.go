package pipeline

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// On Linux a process is named, for the leases of the runs it drives, by
// the boot, the pid namespace, its pid and its start time:
// "linux:<boot id>:<pid namespace>:<pid>:<start time>". Another process on
// the same machine, in the same pid namespace and boot, can then tell for
// sure that it is gone (no such pid, or one that started at another time:
// reused). A process elsewhere (another machine, container or boot) is
// never judged: its lease has to expire.

// selfProcess returns this process's name for leases, "" if /proc cannot
// tell it.
func selfProcess() string {
	boot, ns, start, err := procIdentity(os.Getpid())
	if err != nil {
		return ""
	}
	return fmt.Sprintf("linux:%s:%s:%d:%s", boot, ns, os.Getpid(), start)
}

// processGone reports whether the process named p (selfProcess of some
// process) is known to have exited.
func processGone(p string) bool {
	f := strings.Split(p, ":")
	if len(f) != 5 || f[0] != "linux" {
		return false
	}
	pid, err := strconv.Atoi(f[3])
	if err != nil || pid <= 0 {
		return false
	}
	boot, ns, _, err := procIdentity(os.Getpid())
	if err != nil || boot != f[1] || ns != f[2] {
		return false // another machine, container or boot: cannot tell
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if os.IsNotExist(err) {
		return true
	}
	if err != nil {
		return false
	}
	state, start, ok := parseStat(string(stat))
	return ok && (start != f[4] || state == "Z" || state == "X")
}

// procIdentity returns the boot id, the pid namespace and the start time
// of process pid.
func procIdentity(pid int) (boot, ns, start string, err error) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", "", "", err
	}
	ns, err = os.Readlink("/proc/self/ns/pid") // "pid:[4026531836]"
	if err != nil {
		return "", "", "", err
	}
	ns = strings.TrimSuffix(strings.TrimPrefix(ns, "pid:["), "]")
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", "", "", err
	}
	_, start, ok := parseStat(string(stat))
	if !ok {
		return "", "", "", fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	return strings.TrimSpace(string(b)), ns, start, nil
}

// parseStat returns the state and the start time (in clock ticks since
// boot) of a /proc/PID/stat line: fields 3 and 22, counted after the
// command name, which may hold spaces and parentheses.
func parseStat(stat string) (state, start string, ok bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return "", "", false
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 20 {
		return "", "", false
	}
	return f[0], f[19], true
}
