"""gunicorn settings for the Flask contender: says where it listens the way the other
contenders do, so the bench finds its port the same way."""


def when_ready(server):
    for listener in server.LISTENERS:
        host, port = listener.sock.getsockname()[:2]
        print(f"listening on http://{host}:{port}", flush=True)
