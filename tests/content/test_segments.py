from content.segments import SegmentCount, count_segments


def test_gsm7_fits_160_in_one_segment_and_153_per_part_after():
    assert count_segments("a" * 160) == SegmentCount("GSM-7", 160, 1)
    assert count_segments("a" * 161) == SegmentCount("GSM-7", 161, 2)
    assert count_segments("a" * 306) == SegmentCount("GSM-7", 306, 2)
    assert count_segments("a" * 307) == SegmentCount("GSM-7", 307, 3)


def test_extension_characters_take_two_septets():
    assert count_segments("€" * 80) == SegmentCount("GSM-7", 160, 1)
    assert count_segments("{" + "a" * 159) == SegmentCount("GSM-7", 161, 2)


def test_any_other_character_switches_to_ucs2_with_70_and_67():
    assert count_segments("ç" + "a" * 69) == SegmentCount("UCS-2", 70, 1)
    assert count_segments("ç" + "a" * 70) == SegmentCount("UCS-2", 71, 2)
    assert count_segments("ç" * 134) == SegmentCount("UCS-2", 134, 2)
    assert count_segments("ç" * 135) == SegmentCount("UCS-2", 135, 3)


def test_an_emoji_takes_two_ucs2_units():
    assert count_segments("🛒") == SegmentCount("UCS-2", 2, 1)


def test_an_empty_text_is_no_segment():
    assert count_segments("") == SegmentCount("GSM-7", 0, 0)
