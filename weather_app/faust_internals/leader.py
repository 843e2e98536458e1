"""Faust's leader election topic: the worker given its one partition runs the on_leader timers."""

from typing import cast

import faust
from faust.assignor.leader_assignor import LeaderAssignor


def leader_topic_name(app: faust.App) -> str:
    """The topic's name, which Faust keeps in a private attribute of its assignor."""
    return cast(LeaderAssignor, app._leader_assignor)._leader_topic_name
