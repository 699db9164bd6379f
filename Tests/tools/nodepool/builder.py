"""nodepool-builder for NodepoolBuilderTests: nodepool's own NodePoolBuilder, in the
foreground, with its cleanup worker every INTERVAL seconds instead of every minute.

Usage: builder.py NODEPOOL_YAML INTERVAL   (runs until SIGTERM or SIGINT)
"""
import logging
import os
import signal
import sys
import threading

from nodepool import builder

logging.basicConfig(level=logging.DEBUG, stream=sys.stdout,
                    format="%(asctime)s %(levelname)s %(name)s: %(message)s")
for quiet in ("kazoo", "kazoo.client", "urllib3", "openstack", "stevedore"):
    logging.getLogger(quiet).setLevel(logging.WARNING)

# Each pass of the cleanup worker is logged with what it saw in the images directory and
# which names its expression took for builds (the names it may delete when ZooKeeper does
# not know them). Only a log line is added; the pass itself is nodepool's.
cleanup = builder.CleanupWorker._cleanup


def logged_cleanup(self):
    names = sorted(os.listdir(self._config.images_dir))
    matched = [n for n in names if self.LOCAL_BUILDS_RE.match(n)]
    self.log.info("builder.py: cleanup pass over %s; matched as builds: %s", names, matched)
    return cleanup(self)


builder.CleanupWorker._cleanup = logged_cleanup
nb = builder.NodePoolBuilder(sys.argv[1], num_uploaders=1)
interval = float(sys.argv[2])
nb.cleanup_interval = interval
nb.build_interval = 1
nb.upload_interval = 1
stop = threading.Event()
for number in (signal.SIGTERM, signal.SIGINT):
    signal.signal(number, lambda *_: stop.set())
nb.start()
print("builder.py: started, cleanup every %s s" % interval, flush=True)
# Python runs signal handlers in the main thread between bytecodes: wake up every second.
while not stop.wait(1):
    pass
# nodepool's stop joins its workers, which may wait on a build; give it 20 s, then go.
stopper = threading.Thread(target=nb.stop, daemon=True)
stopper.start()
stopper.join(20)
logging.shutdown()
os._exit(0)
