#!/usr/bin/python3
# contrib/interop/ptydrive.py — runs a terminal program (mutt) in a pseudo-terminal and types
# keys when the screen shows a text, as a person at the terminal would. mutt signs and encrypts
# only when composing interactively (batch mode never applies crypt_autosign/autoencrypt), so
# the interop suite drives its compose menu: wait for "Mutt: Compose", press "y" (send).
#
#   ptydrive.py TIMEOUT_SECONDS WAIT_FOR KEYS [WAIT_FOR KEYS ...] -- COMMAND ARGS...
# Exits 0 when every text was seen, its keys typed, and the program exited 0; otherwise 1,
# with the screen's last output on stderr.
import os
import pty
import select
import signal
import sys
import time


def main(argv):
    sep = argv.index("--")
    timeout = float(argv[1])
    steps = [(argv[k].encode(), argv[k + 1].encode()) for k in range(2, sep, 2)]
    cmd = argv[sep + 1:]
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["TERM"] = "vt100"
        os.execvp(cmd[0], cmd)
    screen = b""
    mark = 0
    deadline = time.monotonic() + timeout
    timed_out = True
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            continue
        try:
            data = os.read(fd, 4096)
        except OSError:
            data = b""
        if not data:
            timed_out = False
            break
        screen += data
        if steps and steps[0][0] in screen[mark:]:
            mark = len(screen)
            # Let the program finish drawing and read the keyboard before typing.
            time.sleep(0.2)
            os.write(fd, steps.pop(0)[1])
    if timed_out:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if steps or code != 0:
        tail = screen[-1200:].decode("utf-8", "replace")
        sys.stderr.write(f"ptydrive: {cmd[0]} exited {code}, {len(steps)} steps left\n{tail}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
