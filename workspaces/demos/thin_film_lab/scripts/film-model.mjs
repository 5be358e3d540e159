// The process model shared by the prediction script: how a sputtered ITO film's deposition rate
// depends on power and how its resistivity depends on substrate temperature. (The simulated
// robot in ../robot.mjs deliberately has its own, slightly different "true" physics.)

/** Deposition rate (nm/s) at `powerW`: linear above a discharge threshold. */
export const RATE_PER_WATT = 0.0035;
export const THRESHOLD_W = 20;
export function depositionRate(powerW) {
  return Math.max(0, RATE_PER_WATT * (powerW - THRESHOLD_W));
}

/**
 * Resistivity (µΩ·cm) at substrate temperature `tempC`: amorphous films crystallise as the
 * substrate gets hotter, but too hot and thermal stress / oxygen loss raise it again.
 */
export function resistivity(tempC) {
  return 180 + 900 * Math.exp(-(tempC - 25) / 80) + 0.002 * (tempC - 25) ** 2;
}

/** Sheet resistance (Ω/sq) of a film of resistivity `rhoMicroOhmCm` and thickness `thicknessNm`. */
export function sheetResistance(rhoMicroOhmCm, thicknessNm) {
  return (10 * rhoMicroOhmCm) / thicknessNm;
}
