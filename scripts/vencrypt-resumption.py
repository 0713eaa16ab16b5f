#!/usr/bin/env python3
"""Does a VeNCrypt server (QEMU's gnutls) resume TLS sessions? Two X509None handshakes with the
proxy's client certificate, the second offering the first's session.

    scripts/vencrypt-resumption.py PORT PKI_DIR     (PKI_DIR as `vncgate pki init` makes it)
"""
import socket, ssl, struct, sys
port = int(sys.argv[1])
pki = sys.argv[2]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(f"{pki}/proxy/ca-cert.pem")
ctx.load_cert_chain(f"{pki}/proxy/client-cert.pem", f"{pki}/proxy/client-key.pem")
ctx.check_hostname = False
def recv(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c: raise SystemExit("closed")
        b += c
    return b
def vencrypt(session):
    s = socket.create_connection(("127.0.0.1", port))
    recv(s, 12); s.sendall(b"RFB 003.008\n")
    n = recv(s, 1)[0]; types = recv(s, n)
    assert 19 in types, types
    s.sendall(bytes([19]))
    recv(s, 2); s.sendall(bytes([0, 2])); assert recv(s, 1) == b"\0"
    n = recv(s, 1)[0]; subs = struct.unpack(f">{n}I", recv(s, 4 * n))
    assert 260 in subs, subs
    s.sendall(struct.pack(">I", 260)); assert recv(s, 1) == b"\1"
    t = ctx.wrap_socket(s, session=session)
    result = recv(t, 4)  # SecurityResult; tickets arrive around it
    t.sendall(b"\1"); recv(t, 24)  # ClientInit, ServerInit head: reads past any ticket
    return t, result
first, r1 = vencrypt(None)
print("first:", first.version(), first.cipher()[0], "result", r1.hex(), "ticket:", first.session is not None and first.session.has_ticket)
session = first.session
first.close()
second, r2 = vencrypt(session)
print("second:", second.version(), "reused:", second.session_reused)
