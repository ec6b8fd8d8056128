package config

// HRConfig configures the HR-system intake: the HTTP listener for webhooks and
// the scheduled directory sync.
type HRConfig struct {
	// Listen is the address of the HTTP intake, e.g. 127.0.0.1:8080.
	Listen string `yaml:"listen"`
}
