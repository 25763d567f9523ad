"""What only a command uses: the worker never imports this folder.

Owns sending files (:mod:`~hub.tools.sender`), the dead-letter tooling
(:mod:`~hub.tools.dlq`), the simulator (:mod:`~hub.tools.simulate`: the one traffic
source) and the demo (:mod:`~hub.tools.demo`), golden routing cases
(:mod:`~hub.tools.routing_cases`), the ACL plan (:mod:`~hub.tools.acl`) and sample
messages (:mod:`~hub.tools.samples`, strings for patterns by
:mod:`~hub.tools.regex_sample`).

May import anything below the command line. Never ``hub.cli`` or ``hub.testing``.
"""
