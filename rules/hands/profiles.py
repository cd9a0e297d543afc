"""The hand rules' profiles (kept apart from the analysis so that loading the rules imports no model)."""

# Which hands each profile judges, and how sure a report must be: one table for both rules,
# so that HAND001 and HAND002 judge the same hands from one analysis per image.
HAND_PROFILES = {
    "lenient": {"min_hand_share": 0.12, "min_confidence": 0.97, "min_detection_score": 0.6,
                "search_tiles": False, "search_with_pose": False},
    "strict": {"min_hand_share": 0.04, "min_confidence": 0.93, "min_detection_score": 0.4,
               "search_tiles": True, "search_with_pose": False},
}
