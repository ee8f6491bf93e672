"""A CLI run killed at an awkward moment, for the tests of interrupted commands."""

# The CLI in a child that SIGKILLs itself just before the atomic replace that would put a file
# ending in $KILL_BEFORE in place: the file's new bytes are written, not yet visible. Run as
# ``python -c KILLED_CLI <cli arguments>`` from the repository's root.
KILLED_CLI = """
import os, signal, sys
real = os.replace
def replace(src, dst, *a, **k):
    if str(dst).endswith(os.environ["KILL_BEFORE"]):
        os.kill(os.getpid(), signal.SIGKILL)
    return real(src, dst, *a, **k)
os.replace = replace
from cli import main
main(sys.argv[1:], prog_name="certseal")
"""
