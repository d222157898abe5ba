#!/usr/bin/python3
"""Tell neutron-server that ports are up on a host, as an L2 agent does.

usage: neutron-device-up.py NEUTRON_CONF
Reads lines "PORT_ID HOST" on stdin; for each it makes the RPC call an Open
vSwitch agent makes once a port's VIF is wired (update_device_up on topic
q-plugin, neutron.agent.rpc.PluginApi), which sets the port ACTIVE in
Neutron, and prints "up PORT_ID" once neutron-server has answered (or
"error PORT_ID: ..."). A line "ready" is printed once the RPC client is set
up. One process serves many ports: importing neutron takes seconds.
"""
import sys

from neutron.agent import rpc as agent_rpc
from neutron.common import config as common_config
from neutron_lib.agent import topics
from neutron_lib import context


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    common_config.register_common_config_options()
    common_config.init(["--config-file", sys.argv[1]])
    rpc = agent_rpc.PluginApi(topics.PLUGIN)
    ctx = context.get_admin_context_without_session()
    print("ready", flush=True)
    for line in sys.stdin:
        f = line.split()
        if len(f) != 2:
            continue
        port, host = f
        try:
            rpc.update_device_up(ctx, port, "ovs-agent-" + host, host)
            print("up " + port, flush=True)
        except Exception as e:  # report and go on: the test decides
            print("error %s: %s" % (port, e), flush=True)


if __name__ == "__main__":
    main()
