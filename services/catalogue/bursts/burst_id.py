"""ESA's official burst ID (S1-TN-MDA-52-7445 §9.25; spec sentinel1-bursts.md §8).

A burst is identified across dates by (relative burst ID, swath). The XML `<burstId>` (IPF >= 3.40) is
authoritative; this module computes the same number for older products and for tiles stored before we
kept the ID (only their Geocube ANX key is known).
"""

from __future__ import annotations

import math

# 12-day repeat cycle of 175 orbits. Float on purpose: the reference's 5924 (integer division) is only
# for the Geocube key (parse.anx_key), never for ESA IDs.
T_ORB = 12 * 86400 / 175
IDS_PER_CYCLE = 375887  # floor(12 days / IW beam cycle): relative IDs run 1..375887 per swath

# (preamble, beam cycle) in seconds, Table 9-7.
_TIMING = {"IW": (2.299849, 2.758273), "EW": (2.299970, 3.038376)}

# Seconds from the burst's sensing time to the mid-burst of the cycle's middle swath (IW2 / EW3), with
# the nominal swath-to-swath gaps of s1-reader/burst2safe (IW1->IW2 0.832, IW2->IW3 1.078 s): the ID is
# one per burst cycle, so every swath of a cycle must land on the same time.
_TO_MID_CYCLE = {
    "IW1": 0.832 + 1.078 / 2,
    "IW2": 1.078 / 2,
    "IW3": -1.078 / 2,
    # EW gaps 0.683/0.559/0.612/0.565 s, mid-EW3 as reference. Not verified on a real EW product here.
    "EW1": 0.683 + 0.559 + 0.612 / 2,
    "EW2": 0.559 + 0.612 / 2,
    "EW3": 0.612 / 2,
    "EW4": -0.612 / 2,
    "EW5": -0.612 / 2 - 0.565,
}

# Sensing time (first input line) minus zero-Doppler time of a burst's first line: 1.02-1.15 s in the
# fixtures. Only used to turn a legacy ANX key (zero-Doppler) back into a sensing time.
_SENSING_MINUS_ZERO_DOPPLER = 1.1

# Relative orbit = (absolute - offset) mod 175 + 1, per satellite.
_ORBIT_OFFSET = {"S1A": 73, "S1B": 27, "S1C": 172}


def relative_orbit(mission: str, absolute_orbit: int) -> int | None:
    offset = _ORBIT_OFFSET.get(mission.upper())
    return None if offset is None else (absolute_orbit - offset) % 175 + 1


def esa_burst_id(swath: str, sensing_since_anx: float, rel_orbit: int) -> int | None:
    """Relative burst ID (absolute ID when given an absolute orbit) from a burst's sensing time (seconds since the ascending node). None for a swath
    with no published timing (stripmap, wave)."""
    timing = _TIMING.get(swath[:2].upper())
    to_mid = _TO_MID_CYCLE.get(swath.upper())
    if timing is None or to_mid is None:
        return None
    preamble, beam = timing
    cycle_time = sensing_since_anx + to_mid + (rel_orbit - 1) * T_ORB
    burst = 1 + math.floor((cycle_time - preamble) / beam)
    if rel_orbit > 175:
        return burst  # an absolute orbit number gives the absolute burst ID: no wrap
    # A product of track 175 sensed after the next ANX wraps to the start of the cycle.
    return (burst - 1) % IDS_PER_CYCLE + 1


def esa_burst_id_from_key(swath: str, anx_key: int, rel_orbit: int) -> int | None:
    """Approximate ESA ID of a tile known only by its Geocube key (deciseconds of zero-Doppler time since
    ANX). Lands at phase 0.46-0.53 of the beam cycle on the fixtures, far from an ID boundary."""
    return esa_burst_id(swath, anx_key / 10 + _SENSING_MINUS_ZERO_DOPPLER, rel_orbit)
