#!/usr/bin/env python3
"""Request-to-response times on the wire, from a capture of a bench run (docs/tail.md).

    tcpdump -i lo -s 200 -w run.pcap 'tcp port PORT'   # while wrk runs
    python3 bench/tail/wire.py run.pcap PORT

For every connection: when it was opened (SYN), and for every request, the time from the
request's first packet to the response's first packet. Prints the distribution for all
requests, for first requests of a connection and for the others, and the slowest ones.
"""
import struct
import sys


def packets(path):
    with open(path, "rb") as f:
        magic = f.read(24)
        endian = "<" if magic[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        nano = magic[:4] in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
        linktype = struct.unpack(endian + "I", magic[20:24])[0]
        while True:
            header = f.read(16)
            if len(header) < 16:
                return
            sec, frac, caplen, _ = struct.unpack(endian + "IIII", header)
            data = f.read(caplen)
            t = sec + frac / (1e9 if nano else 1e6)
            offset = 14 if linktype == 1 else 16 if linktype == 113 else 0
            ip = data[offset:]
            if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 6:
                continue
            ihl = (ip[0] & 15) * 4
            total = struct.unpack("!H", ip[2:4])[0]
            tcp = ip[ihl:total]
            sport, dport = struct.unpack("!HH", tcp[:4])
            flags = tcp[13]
            payload = tcp[(tcp[12] >> 4) * 4 :]
            yield t, sport, dport, flags, payload


def main(path, port):
    opened, requests, pending = {}, [], {}
    start = None
    for t, sport, dport, flags, payload in packets(path):
        start = t if start is None else start
        if dport == port:
            client = sport
            if flags & 0x02 and not flags & 0x10:  # SYN
                opened[client] = t
                pending[client] = []
            elif payload[:4] in (b"GET ", b"POST", b"HEAD"):
                pending.setdefault(client, []).append(t)
        elif sport == port and payload.startswith(b"HTTP/1."):
            client = dport
            if pending.get(client):
                sent = pending[client].pop(0)
                first = not any(r[0] == client for r in requests)
                requests.append((client, sent, t, first))
    if not requests:
        sys.exit("no requests found")

    def show(label, ms):
        ms = sorted(ms)
        if not ms:
            return
        pick = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]
        print(f"{label:32} n={len(ms):6}  p50 {pick(.5):7.1f}  p99 {pick(.99):7.1f}  max {ms[-1]:7.1f} ms")

    times = [(r[2] - r[1]) * 1000 for r in requests]
    show("all requests", times)
    show("first request of a connection", [(r[2] - r[1]) * 1000 for r in requests if r[3]])
    show("later requests", [(r[2] - r[1]) * 1000 for r in requests if not r[3]])
    slow = [r for r in requests if (r[2] - r[1]) * 1000 > 100]
    print(f"over 100 ms: {len(slow)}, of which first of their connection: {sum(r[3] for r in slow)}")
    for client, sent, answered, first in sorted(slow, key=lambda r: r[1])[:40]:
        print(
            f"  sent at {(sent - start) * 1000:8.1f} ms  answered after {(answered - sent) * 1000:7.1f} ms"
            f"  {'first' if first else 'later'} request (connection opened at {(opened.get(client, start) - start) * 1000:.1f} ms)"
        )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
