import socket
import subprocess

from tests.servers import BASE_DIR, BIN, free_port, process_env


def test_the_web_server_refuses_a_port_another_server_already_listens_on(db):
    port = free_port()
    with socket.socket() as other_server:
        # As another gunicorn worker would: with SO_REUSEPORT a second bind would succeed.
        other_server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other_server.bind(("127.0.0.1", port))
        other_server.listen()

        server = subprocess.run(
            [BIN / "gunicorn", "-c", BASE_DIR / "project/gunicorn.conf.py", "project.wsgi"],
            cwd=BASE_DIR,
            env=process_env(HOST="127.0.0.1", PORT=str(port), WEB_CONCURRENCY="1"),
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert server.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in server.stderr


def test_the_web_server_says_where_it_listens(db):
    port = free_port()
    server = subprocess.Popen(
        [BIN / "gunicorn", "-c", BASE_DIR / "project/gunicorn.conf.py", "project.wsgi"],
        cwd=BASE_DIR,
        env=process_env(HOST="127.0.0.1", PORT=str(port), WEB_CONCURRENCY="1"),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        for line in server.stderr:
            lines.append(line)
            if "Listening at: http" in line:
                break
    finally:
        stop(server)

    assert f"Listening at: http://127.0.0.1:{port} (" in lines[-1], lines


def stop(server: subprocess.Popen) -> None:
    """SIGTERM, reading what it still writes (a full pipe would block its exit); a server
    whose worker is still booting may sit out gunicorn's graceful timeout, so then SIGKILL."""
    server.terminate()
    try:
        server.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.communicate()
