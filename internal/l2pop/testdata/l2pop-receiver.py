#!/usr/bin/python3
"""Record the l2pop casts that fake compute hosts receive, as real agents would.

usage: l2pop-receiver.py TRANSPORT_URL OUT_FILE HOST [HOST...]

For each HOST this subscribes exactly as a Neutron OVS/Linux bridge agent with
l2_population = true does (neutron.agent.rpc.create_consumers with
[[topics.L2POPULATION, topics.UPDATE]]): an oslo.messaging RPC server on topic
q-agent-notifier-l2population-update with server=HOST (which also consumes the
topic's fanout exchange), and one on q-agent-notifier-l2population-update.HOST
(the host-targeted casts, on the control exchange "neutron"). The endpoint is
neutron's own L2populationRpcCallBackMixin with Neutron's context serializer and
access policy, so a cast the mixin cannot take fails here as it would on a real
agent. Each fdb_add / fdb_remove / fdb_update the mixin calls is appended to
OUT_FILE as one JSON line {"host", "method", "fdb_entries"}; a line "ready" is
printed on stdout once every host listens.
"""
import json
import signal
import sys
import threading

from oslo_config import cfg
import oslo_messaging
from oslo_messaging.rpc import dispatcher

from neutron_lib import rpc as n_rpc
from neutron.plugins.ml2.drivers.l2pop.rpc_manager import l2population_rpc

TOPIC = "q-agent-notifier-l2population-update"
lock = threading.Lock()


class Recorder(l2population_rpc.L2populationRpcCallBackMixin):
    target = oslo_messaging.Target(version="1.4")

    def __init__(self, host, out):
        self.host = host
        self.out = out

    def _record(self, method, fdb_entries):
        line = json.dumps({"host": self.host, "method": method, "fdb_entries": fdb_entries}, sort_keys=True)
        with lock:
            self.out.write(line + "\n")
            self.out.flush()

    def fdb_add(self, context, fdb_entries):
        self._record("add", fdb_entries)

    def fdb_remove(self, context, fdb_entries):
        self._record("remove", fdb_entries)

    def fdb_update(self, context, fdb_entries):
        self._record("update", fdb_entries)


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    url, out_path, hosts = sys.argv[1], sys.argv[2], sys.argv[3:]
    # As neutron.common.config does: topic casts go to exchange "neutron".
    oslo_messaging.set_transport_defaults(control_exchange="neutron")
    cfg.CONF([], project="l2pop-receiver")
    transport = oslo_messaging.get_rpc_transport(cfg.CONF, url=url)
    # Reconnect to a restarted broker within seconds (oslo's default backs
    # off up to 30 s), so that the tests' broker restarts stay short.
    cfg.CONF.set_override("rabbit_interval_max", 2, group="oslo_messaging_rabbit")
    cfg.CONF.set_override("rabbit_retry_backoff", 1, group="oslo_messaging_rabbit")
    out = open(out_path, "a")
    servers = []
    for host in hosts:
        endpoint = Recorder(host, out)
        for target in (oslo_messaging.Target(topic=TOPIC, server=host, fanout=True),
                       oslo_messaging.Target(topic=TOPIC + "." + host, server=host)):
            s = oslo_messaging.get_rpc_server(transport, target, [endpoint], "threading",
                                              n_rpc.RequestContextSerializer(),
                                              access_policy=dispatcher.DefaultRPCAccessPolicy)
            s.start()
            servers.append(s)
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    for s in servers:
        s.stop()
    for s in servers:
        s.wait()
    transport.cleanup()


if __name__ == "__main__":
    main()
