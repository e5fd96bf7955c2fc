package twin

import (
	"context"

	"github.com/iotbench/iotbench/flasher/ota"
	"github.com/iotbench/iotbench/virtualboard"
	"github.com/iotbench/iotbench/virtualboard/arduinoota"
)

// ArduinoOTA is Options.NewOTA for a board with an ArduinoOTA device
// (virtualboard/arduinoota): the sketch's ArduinoOTA.begin() and handle()
// run on it, with the sketch's callbacks. On an ESP8266 wrap the app in
// dev.WithEboot so a received update is copied into place on the next
// boot; on ESP32-family chips (a Device with Config.Chip set) the update
// goes into the other OTA slot and the bootloader picks it from otadata,
// so there is nothing to wrap. The UDP port is
// the device's (config.json's ota.port cannot move a socket the device
// already holds).
func ArduinoOTA(dev *arduinoota.Device) func() OTA {
	return func() OTA { return &arduinoOTA{d: dev} }
}

type arduinoOTA struct {
	d *arduinoota.Device
	o *arduinoota.OTA
}

func (a *arduinoOTA) Begin(ctx context.Context, env *virtualboard.AppEnv, c OTAConfig, h OTAHooks) error {
	a.o = a.d.Begin(ctx, env, arduinoota.Settings{Hostname: c.Hostname, PasswordHash: c.PasswordMD5}, arduinoota.Callbacks{
		OnStart: func(cmd ota.Command) { h.OnStart(arduinoota.TargetName(cmd)) },
		OnEnd:   h.OnEnd,
		OnError: func(e arduinoota.Error) { h.OnError(int(e)) },
	})
	return nil
}

func (a *arduinoOTA) Handle(ctx context.Context) { a.o.Handle(ctx) }
