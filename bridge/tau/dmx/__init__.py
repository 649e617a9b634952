"""DMX output: fixture rendering (curves, mixing), fades, the render loop and drivers."""
