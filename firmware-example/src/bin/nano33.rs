//! Arduino Nano 33 BLE Sense (nRF52840, 64 MHz Cortex-M4F): PDM microphone → fixed-point
//! log-mel front end, a defmt summary over RTT every second, LED on while loud.
//!
//! * Microphone: MP34DT05 on PDM, power P0.17 (high, then ~10 ms), CLK P0.26, DIN P0.25;
//!   16 kHz mono = 1.280 MHz PDM clock / ratio 80 (the 32 MHz crystal is on).
//! * LED: the orange LED on P0.13, active high.
//! * Capture: `run_task_sampler` with two 512-sample buffers (32 ms each), no gaps.
//!
//! NOTE: the sampler callback runs synchronously and must finish within one buffer,
//! 32 ms. It pushes 512 samples through the front end: 3–4 frames of ≈ 90 k instructions
//! (QEMU count), ≈ 5–9 ms at 64 MHz with 1.25–1.5 cycles per instruction, and logs once
//! a second. The summary reports the callback's worst DWT cycle count, so the margin is
//! measured on the real board.
//!
//! PLACEHOLDER: the LED follows a signal-energy gate (`activity`), not tagged events; the
//! runtime's `Tagger` replaces it once it exists.

#![no_std]
#![no_main]

use cortex_m::peripheral::DWT;
use defmt_rtt as _;
use embassy_executor::Spawner;
use embassy_nrf::config::{Config, HfclkSource};
use embassy_nrf::gpio::{Level, Output, OutputDrive};
use embassy_nrf::pdm::{self, Frequency, Pdm, Ratio, SamplerState};
use embassy_nrf::{bind_interrupts, peripherals};
use embassy_time::Timer;
use matpac_firmware_example::activity::{Activity, ActivityConfig};
use matpac_runtime::frontend::{Frontend, FrontendConfig, LOG_MEL_FRAC_BITS};
use panic_probe as _;

bind_interrupts!(struct Irqs {
    PDM => pdm::InterruptHandler<peripherals::PDM>;
});

/// Samples per DMA buffer: 32 ms at 16 kHz.
const BUFFER_LEN: usize = 512;
/// Core clock, for turning DWT cycles into microseconds.
const CORE_HZ: u32 = 64_000_000;

#[embassy_executor::main]
async fn main(_spawner: Spawner) {
    let mut config = Config::default();
    config.hfclk_source = HfclkSource::ExternalXtal;
    let p = embassy_nrf::init(config);

    // Cycle counter for the callback's cost (None if something else took the core
    // peripherals; then cycles read as 0).
    let dwt_ok = match cortex_m::Peripherals::take() {
        Some(mut cp) => {
            cp.DCB.enable_trace();
            cp.DWT.enable_cycle_counter();
            true
        }
        None => false,
    };

    let mut led = Output::new(p.P0_13, Level::Low, OutputDrive::Standard);
    let _mic_power = Output::new(p.P0_17, Level::High, OutputDrive::HighDrive);
    Timer::after_millis(10).await;

    // 16 kHz = 1.280 MHz / 80 (embassy's default clock, 1.032 MHz, would give ≈ 12.9 kHz).
    let pdm_config = pdm::Config {
        frequency: Frequency::_1280k,
        ratio: Ratio::Ratio80,
        ..Default::default()
    };
    let mut pdm = Pdm::new(p.PDM, Irqs, p.P0_26, p.P0_25, pdm_config);

    let fe_config = FrontendConfig::default();
    let mut frontend = match Frontend::new(&fe_config) {
        Ok(frontend) => frontend,
        Err(e) => {
            defmt::error!("front end: {}", e);
            loop {
                led.toggle();
                Timer::after_millis(100).await;
            }
        }
    };
    let mut activity = Activity::new(ActivityConfig {
        samples_per_summary: fe_config.sample_rate,
        ..Default::default()
    });
    let mut bufs = [[0i16; BUFFER_LEN]; 2];
    let samples_per_ms = (fe_config.sample_rate / 1000).max(1);
    let mut worst_cycles = 0u32;
    defmt::info!(
        "matpac nano33: {} Hz, {} mels, hop {}, {}-sample buffers, DWT {}",
        fe_config.sample_rate,
        fe_config.n_mels,
        fe_config.hop_length,
        BUFFER_LEN,
        dwt_ok
    );

    loop {
        let result = pdm
            .run_task_sampler(&mut bufs, |buf| {
                let start = DWT::cycle_count();
                frontend.push(buf, |log_mel_q16| activity.on_frame(log_mel_q16));
                let summary = activity.on_pcm(buf);
                if activity.active() {
                    led.set_high();
                } else {
                    led.set_low();
                }
                worst_cycles = worst_cycles.max(DWT::cycle_count().wrapping_sub(start));
                if let Some(s) = summary {
                    defmt::info!(
                        "{=u32} s: {=u32} frames, rms {=u32} (peak {=u32}), loudest band {=u16} (ln {=i32}/2^{=u32}), active {=u32} ms, worst callback {=u32} cycles = {=u32} us",
                        s.index,
                        s.frames,
                        s.rms,
                        s.peak_rms,
                        s.loudest_band,
                        s.loudest_q16,
                        LOG_MEL_FRAC_BITS,
                        s.active_samples / samples_per_ms,
                        worst_cycles,
                        worst_cycles / (CORE_HZ / 1_000_000)
                    );
                    worst_cycles = 0;
                }
                SamplerState::Sampled
            })
            .await;
        if let Err(e) = result {
            defmt::error!("pdm: {}", e);
            Timer::after_millis(100).await;
        }
    }
}
