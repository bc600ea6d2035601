"""The journey designer: admin screens that build, check, test and publish journeys.

`editing` changes a journey spec (pure), `canvas` turns a spec into tiles to draw, `forms`
read what the marketer typed, and `views` glue them to the admin (`JourneyDesigner`).
"""
