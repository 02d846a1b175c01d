"""Where things are in the 68-point iBUG 300-W landmark layout (dlib's order).

Alignment, tracking, lip-sync and reenactment all index into the same 68 points;
naming the regions and point sets once keeps the engines from drifting apart (a
lip pair written as (61, 67) in one engine and (62, 66) in another would make the
same mouth measure differently). Slices are end-exclusive. "Left"/"right" are as
seen in the image: `JAW` runs from the image-left ear to the image-right one.
Contours that a caller walks in order are tuples, in that order.
"""

from __future__ import annotations

# -- regions ----------------------------------------------------------------------------
JAW = slice(0, 17)
BROW_IMAGE_LEFT = slice(17, 22)
BROW_IMAGE_RIGHT = slice(22, 27)
BROWS = slice(BROW_IMAGE_LEFT.start, BROW_IMAGE_RIGHT.stop)
NOSE_BRIDGE = slice(27, 31)
NOSE_BASE = slice(31, 36)
NOSE = slice(NOSE_BRIDGE.start, NOSE_BASE.stop)
EYE_IMAGE_LEFT = slice(36, 42)
EYE_IMAGE_RIGHT = slice(42, 48)
MOUTH_OUTER = slice(48, 60)
MOUTH_INNER = slice(60, 68)
MOUTH = slice(MOUTH_OUTER.start, MOUTH_INNER.stop)

# -- single points ----------------------------------------------------------------------
NOSE_BRIDGE_MID_INDEX = 29
NOSE_TIP_INDEX = 30
MOUTH_CORNER_LEFT_INDEX = 48
MOUTH_CORNER_RIGHT_INDEX = 54
INNER_CORNER_LEFT_INDEX = 60
INNER_CORNER_RIGHT_INDEX = 64
INNER_LIP_TOP_INDEX = 62
INNER_LIP_BOTTOM_INDEX = 66
MOUTH_CORNERS = (MOUTH_CORNER_LEFT_INDEX, MOUTH_CORNER_RIGHT_INDEX,
                 INNER_CORNER_LEFT_INDEX, INNER_CORNER_RIGHT_INDEX)

# -- eyelids: (upper, lower) pairs, one column of the eye each --------------------------
EYELID_PAIRS_IMAGE_LEFT = ((37, 41), (38, 40))
EYELID_PAIRS_IMAGE_RIGHT = ((43, 47), (44, 46))
EYELID_PAIRS = EYELID_PAIRS_IMAGE_LEFT + EYELID_PAIRS_IMAGE_RIGHT

# -- lips -------------------------------------------------------------------------------
# The three middle points of each lip contour, image-left to image-right, so that
# position k of one set faces position k of the others across the mouth.
UPPER_OUTER_MIDDLE = (50, 51, 52)
UPPER_INNER_MIDDLE = (61, 62, 63)
LOWER_INNER_MIDDLE = (67, 66, 65)
LOWER_OUTER_MIDDLE = (58, 57, 56)
# The inner-lip contours from corner to corner (60 -> 64), along the upper and the lower lip.
UPPER_INNER_CONTOUR = (INNER_CORNER_LEFT_INDEX, *UPPER_INNER_MIDDLE, INNER_CORNER_RIGHT_INDEX)
LOWER_INNER_CONTOUR = (INNER_CORNER_LEFT_INDEX, *LOWER_INNER_MIDDLE, INNER_CORNER_RIGHT_INDEX)
# Everything on one lip between the corners (outer and inner contour): what moves with it.
UPPER_LIP = (49, *UPPER_OUTER_MIDDLE, 53, *UPPER_INNER_MIDDLE)
LOWER_LIP = (55, 56, 57, 58, 59, 65, 66, 67)
