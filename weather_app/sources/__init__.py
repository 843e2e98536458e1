"""Where raw readings come from: the Visual Crossing API or the simulation."""
