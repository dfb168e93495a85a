"""Report side of the plugin: item properties on workers; results, JSON and HTML on the controller."""
