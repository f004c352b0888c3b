"""Landing-page lead capture: forms, public submissions and their UTM attribution."""
