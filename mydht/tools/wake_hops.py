#!/usr/bin/env python3
"""Where each wake-up of a latency run lands, from a scheduler trace.

    perf record -a -e sched:sched_waking,sched:sched_wakeup,sched:sched_switch \
        -o /tmp/wake.data BENCH --bench 'threaded/lat1$' --rounds 4
    perf script -i /tmp/wake.data -F comm,tid,cpu,time,event,trace > /tmp/wake.txt
    python3 mydht/tools/wake_hops.py /tmp/wake.txt

BENCH is the latency bench's binary (`cargo bench -p mydht --bench latency
--no-run` names it). For each waker -> woken pair of threads: how many
wake-ups, the share that ran on another CPU than the waker's ("far": on
this VM, a halted vCPU), and the median time from the waking to the woken
thread running, near and far. Then the threads switched out while still
runnable (preempted).
"""
import collections
import re
import statistics
import sys

EVENT = re.compile(r"\s*(\S+)\s+(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+sched:(\S+):\s+(.*)")


def main(path):
    waking, woken, names = {}, {}, {}
    hops = collections.defaultdict(list)
    preempted = collections.Counter()
    for line in open(path, errors="replace"):
        m = EVENT.match(line)
        if not m:
            continue
        comm, tid, cpu, t, ev, trace = m.groups()
        cpu, t = int(cpu), float(t) * 1e6
        if ev == "sched_waking":
            p = re.search(r"comm=(\S+) pid=(\d+)", trace)
            waking[p.group(2)] = (comm, tid, cpu, t)
            names[p.group(2)] = p.group(1)
        elif ev == "sched_wakeup":
            pid = re.search(r"pid=(\d+)", trace).group(1)
            if pid in waking:
                woken[pid] = waking.pop(pid)
        elif ev == "sched_switch":
            p = re.search(
                r"prev_comm=(\S+) prev_pid=(\d+) .*prev_state=(\S+) ==> "
                r"next_comm=(\S+) next_pid=(\d+)",
                trace,
            )
            if p.group(2) != "0" and p.group(3) == "R":
                preempted[f"{p.group(1)[:14]}({p.group(2)})"] += 1
            nxt = p.group(5)
            if nxt in woken:
                wcomm, wtid, wcpu, t0 = woken.pop(nxt)
                key = f"{wcomm[:14]}({wtid}) -> {names.get(nxt, '?')[:14]}({nxt})"
                hops[key].append((wcpu != cpu, t - t0))
    for key, v in sorted(hops.items(), key=lambda kv: -len(kv[1]))[:8]:
        far = [d for f, d in v if f]
        near = [d for f, d in v if not f]
        med = lambda x: statistics.median(x) if x else float("nan")
        print(
            f"{len(v):6d} {key:48s} far {100 * len(far) / len(v):3.0f}%  "
            f"waking->running near {med(near):.0f} us, far {med(far):.0f} us"
        )
    print("switched out while runnable:", preempted.most_common(4))


if __name__ == "__main__":
    main(sys.argv[1])
